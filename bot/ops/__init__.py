"""Operations: logging, metrics and health, memory, the `check` command's probes."""
