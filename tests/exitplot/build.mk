# exitplot on a generated CSV: every plot made in both formats; malformed input refused.
CHECK_TARGETS += check-exitplot
.PHONY: check-exitplot
check-exitplot:
	tests/exitplot/test_exitplot.sh $(BUILD)/tests/exitplot
