# Host unit tests for ept/ (cmocka, ASan+UBSan through host_test).
$(eval $(call host_test,test_ept_mtrr,tests/ept/test_ept_mtrr.c ept/mtrr.c))
$(eval $(call host_test,test_ept_region,tests/ept/test_ept_region.c ept/region.c))
$(eval $(call host_test,test_ept_map,tests/ept/test_ept_map.c tests/ept/test_pool.c $(EPT_SRCS)))
