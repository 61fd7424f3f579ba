# tests/perf: host replays of exit paths for profiling. `make perf-mmio` runs callgrind over one
# replayed MMIO exit -- the general path, a site used once (MMIO_CACHES=0), a remembered MMIO
# site as the light hook replays it (plain register, another register, a store) -- and prints
# host instructions per exit for each; Bochs's path lengths track these. The replay mirrors
# boot/mmio.c step for step (tests/perf/mmio_replay.c says which function each part is):
# change it with boot/mmio.c's MMIO path.
#
# Figures (make perf-mmio, host instructions per exit), mirror of boot/mmio.c at fa2a6b2
# (MMIO_REPLAY_MIRRORS; perf_mmio.sh warns when boot/mmio.c has changed since):
#   general path 1,437 (store 1,412), site used once 809, site hit 96, through ops read 145,
#   store 140.
# Before (mirror of 56d8a59: no window, no plain word, no precomputed next RIP; its general
# path without the count, the paging state's reads, the segment bases or the retire):
#   general 1,226 (store 1,197), site used once 703, site hit 128, ops read 167, store 158.
PERF_MMIO := $(BUILD)/perf/mmio_replay
PERF_MMIO_SRCS := tests/perf/mmio_replay.c $(DECODE_SRCS) ept/region.c pci/pci.c devices/edu.c \
                  vmx/stats.c lib/log.c lib/fmt.c
$(PERF_MMIO): $(call tool_objs,$(PERF_MMIO_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
TOOLS_TARGETS += $(PERF_MMIO)

.PHONY: perf-mmio
perf-mmio: $(PERF_MMIO)
	tests/perf/perf_mmio.sh $(PERF_MMIO) 1000
BENCH_TARGETS += perf-mmio
