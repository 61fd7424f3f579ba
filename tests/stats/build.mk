# Host unit tests for the per-CPU exit accounting (vmx/stats.c).
$(eval $(call host_test,test_vmx_stats,tests/stats/test_vmx_stats.c vmx/stats.c lib/string.c,-lpthread))
