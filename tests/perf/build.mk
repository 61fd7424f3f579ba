# tests/perf: host replays of exit paths for profiling (make perf-mmio runs callgrind over one
# replayed MMIO exit's fetch/walk/decode/emulate chain; Bochs's path lengths track these).
PERF_MMIO := $(BUILD)/perf/mmio_replay
$(PERF_MMIO): $(call tool_objs,tests/perf/mmio_replay.c $(DECODE_SRCS))
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@
TOOLS_TARGETS += $(PERF_MMIO)

.PHONY: perf-mmio
perf-mmio: $(PERF_MMIO)
	$(PERF_MMIO) 1000
	valgrind --tool=callgrind --callgrind-out-file=$(BUILD)/perf/callgrind.mmio $(PERF_MMIO) 1000 2>&1 | tail -n 3
	callgrind_annotate $(BUILD)/perf/callgrind.mmio | head -n 30
BENCH_TARGETS += perf-mmio
