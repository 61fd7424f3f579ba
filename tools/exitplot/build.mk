# tools/exitplot: exitbench CSV -> PNG/SVG plots. `make plot CSV=path [PLOTDIR=dir]`.
PLOTDIR ?= $(BUILD)/plots
.PHONY: plot
plot:
	@[ -n "$(CSV)" ] || { echo "make plot: set CSV=<exitbench.csv>"; exit 1; }
	tools/exitplot/exitplot "$(CSV)" "$(PLOTDIR)"
