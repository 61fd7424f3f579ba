# tests/options/: the load-options and config-file parser (boot/options.c).
$(eval $(call host_test,test_options,tests/options/test_options.c boot/options.c lib/fmt.c))
