/* 2^22 nested includes of itself: a compile that runs for minutes unless it is stopped. */
#if __INCLUDE_LEVEL__ < 22
#include __FILE__
#include __FILE__
#endif
