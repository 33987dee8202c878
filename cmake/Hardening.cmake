# shd_hardening: stack protector, FORTIFY_SOURCE, PIE and full RELRO for every target.
# FORTIFY needs optimisation; Debian 12's glibc 2.36 supports level 3 with gcc 12 / clang 14.
add_library(shd_hardening INTERFACE)
target_compile_options(shd_hardening INTERFACE
    -fstack-protector-strong -fno-strict-overflow -fvisibility=hidden -fstack-clash-protection
    $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3>)
target_link_options(shd_hardening INTERFACE -pie -Wl,-z,relro,-z,now,-z,noexecstack)
