@echo -off
# tests/qemu: run edutest unattended from the UEFI shell, then power off.
# edutest succeeded: `reset -s` (QEMU exits 0). It failed: write 1 to the isa-debug-exit
# port 0xf4 (QEMU exits (1 << 1) | 1 = 3), so the rig's exit status carries the verdict.
for %f in fs0 fs1 fs2 fs3
  if exist %f:\EFI\trapvisor\edutest.efi then
    %f:
    \EFI\trapvisor\edutest.efi
    if %lasterror% == 0 then
      reset -s
    endif
    mm f4 1 -IO -w 1 -n
    reset -s
  endif
endfor
echo "startup.nsh: edutest.efi not found on any file system"
mm f4 2 -IO -w 1 -n
reset -s
