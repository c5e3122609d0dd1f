"""Gadi's queues, generated from src/core/config/queues.ts by test/pbs-emulator/gadiQueues.ts (do not edit)."""

QUEUES = (
    "normal",
    "express",
    "hugemem",
    "megamem",
    "gpuvolta",
    "normalbw",
    "expressbw",
    "normalsl",
    "hugemembw",
    "megamembw",
    "dgxa100",
    "normalsr",
    "expresssr",
    "copyq",
)
MAX_WALLTIME_SECONDS = 172800
