# tests/memo: the decoded-instruction memo of the MMIO fast path (decode/memo.h).
$(eval $(call host_test,test_decode_memo,tests/memo/test_decode_memo.c decode/memo.c decode/decode.c decode/opcodes.c))
