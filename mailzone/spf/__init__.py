"""SPF (RFC 7208): terms and lookup counting, the check_host() evaluator, macros."""
