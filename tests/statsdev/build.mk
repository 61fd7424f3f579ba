# Host unit tests for the statistics function (devices/statsdev.c) over vmx/stats.c.
$(eval $(call host_test,test_devices_statsdev,tests/statsdev/test_devices_statsdev.c devices/statsdev.c vmx/stats.c lib/string.c))
