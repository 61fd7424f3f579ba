# tests/alu: decode/alu differential test against the host CPU (run by `make check-unit`).
$(eval $(call host_test,test_alu,tests/alu/test_alu.c decode/alu.c))
