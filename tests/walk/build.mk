# tests/walk: decode/walk and decode/fetch on synthetic guest page tables (make check-unit).
WALK_TEST_SUPPORT := tests/walk/guest_tables.c
$(eval $(call host_test,test_walk,tests/walk/test_walk.c $(WALK_TEST_SUPPORT) decode/walk.c))
$(eval $(call host_test,test_fetch,tests/walk/test_fetch.c $(WALK_TEST_SUPPORT) decode/walk.c decode/fetch.c))
