# tests/caps/: the VT-x capability report and control computation (vmx/caps.c).
$(eval $(call host_test,test_caps,tests/caps/test_caps.c vmx/caps.c lib/fmt.c))
