# Host unit tests for lib/.
$(eval $(call host_test,test_lib_fmt,tests/lib/test_lib_fmt.c lib/fmt.c))
$(eval $(call host_test,test_lib_string,tests/lib/test_lib_string.c lib/string.c))
$(eval $(call host_test,test_lib_serial,tests/lib/test_lib_serial.c lib/serial.c lib/log.c lib/fmt.c))
