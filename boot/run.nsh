@echo -off
# The `make run` demo: the firmware booted \EFI\BOOT\BOOTX64.EFI (Trapvisor), which launched
# on every CPU and handed back to the next boot entry, the UEFI shell, which runs this file.
# One verdict line, then power off.
for %f in fs0 fs1 fs2 fs3
  if exist %f:\EFI\trapvisor\edutest.efi then
    %f:
    \EFI\trapvisor\edutest.efi
    if %lasterror% == 0 then
      echo "run: VERDICT PASS: edutest passed against Trapvisor's edu"
    else
      echo "run: VERDICT FAIL: edutest failed"
    endif
    reset -s
  endif
endfor
echo "run: VERDICT FAIL: edutest.efi not found"
reset -s
