# tools/x86dec: the decoder on the command line (and its benchmark against Zydis).
X86DEC := $(BUILD)/tools/x86dec
$(X86DEC): $(call tool_objs,tools/x86dec/x86dec.c decode/decode.c decode/opcodes.c)
	@mkdir -p $(@D)
	$(HOSTCC) $^ -o $@ -lZydis
TOOLS_TARGETS += $(X86DEC)
