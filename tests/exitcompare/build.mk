# tests/exitcompare: exitcompare's parsers and verdicts (cmocka), the tool on real outputs, the
# docs/benchmarks.md writer on a copy, and make bench-kvm's refusal without /dev/kvm.
$(eval $(call host_test,test_exitcompare,tests/exitcompare/test_exitcompare.c tools/exitcompare/compare.c tools/exitbench/samples.c lib/fmt.c))
