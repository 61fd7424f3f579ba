# Host unit tests for exitbench's sample statistics.
$(eval $(call host_test,test_exitbench_samples,tests/exitbench/test_exitbench_samples.c tools/exitbench/samples.c lib/fmt.c))
