# tests/perf: host replays of exit paths for profiling. `make perf-mmio` runs callgrind over one
# replayed MMIO exit three ways -- the general path, a site used once (MMIO_CACHES=0) and a
# remembered MMIO site (boot/mmio.c) -- and prints host instructions per exit for each;
# Bochs's path lengths track these.
PERF_MMIO := $(BUILD)/perf/mmio_replay
PERF_MMIO_SRCS := tests/perf/mmio_replay.c $(DECODE_SRCS) ept/region.c pci/pci.c devices/edu.c \
                  lib/log.c lib/fmt.c
$(PERF_MMIO): $(call tool_objs,$(PERF_MMIO_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
TOOLS_TARGETS += $(PERF_MMIO)

.PHONY: perf-mmio
perf-mmio: $(PERF_MMIO)
	tests/perf/perf_mmio.sh $(PERF_MMIO) 1000
BENCH_TARGETS += perf-mmio
