"""Fakes and helpers shared by tests, bench and eval: the fake and scripted LLM servers, the
settings that point the product at them, real worker and client processes, and the rule of
which tests are integration tests. Dev-only: not part of the product's packages or image."""
