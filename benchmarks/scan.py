"""The in-process part of the benchmark runner (no HTTP): the scan against its SQL, Piccolo vs asyncpg, keyset.

    python -m benchmarks.scan --scale S      # PostgreSQL database inzicht_bench_s (loaded by benchmarks.data)

See ``benchmarks.run`` for what is timed; this skips the HTTP part.
"""

import argparse
import asyncio
import os

from benchmarks.data import SCALES, SERVER, database_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="S")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    url = database_url(args.scale, True, args.server)
    os.environ["PORTAL_DATABASE_URL"] = url
    os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
    from benchmarks.run import ensure_data, in_process

    print(ensure_data(url, args.scale, True, args.server))
    inner = asyncio.run(in_process(url, args.repeats))
    print(f"scan first run {inner['scan_first_s']:.2f} s ({inner['signals']:,} signals); idle rerun (unchanged "
          f"contracts skipped) "
          f"{inner['scan_s'] * 1000:.0f} ms vs its {inner['scan_statements']} statements replayed with asyncpg "
          f"{inner['sql_s'] * 1000:.0f} ms = {inner['scan_s'] / inner['sql_s']:.2f}x (goal <= 1.5x)")
    print("per rule: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in inner["scan_rules"].items()))
    print(f"full rerun (every rule on every contract, as the day's first scan) {inner['full_scan_s'] * 1000:.0f} ms "
          f"vs its {inner['full_scan_statements']} statements {inner['full_sql_s'] * 1000:.0f} ms = "
          f"{inner['full_scan_s'] / inner['full_sql_s']:.2f}x")
    print("per rule: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in inner["full_scan_rules"].items()))
    print(f"Piccolo vs asyncpg, case list page query: {inner['piccolo_ms']:.2f} ms vs {inner['asyncpg_ms']:.2f} ms "
          f"= {inner['piccolo_ms'] / inner['asyncpg_ms']:.2f}x (goal <= 1.3x; as list_cases runs it, compiled once "
          f"per shape); for information, built afresh by Piccolo each call: {inner['piccolo_fresh_ms']:.2f} ms "
          f"= {inner['piccolo_fresh_ms'] / inner['asyncpg_ms']:.2f}x")
    print(f"keyset page {inner['deep_page']:,} vs page 1: {inner['deep_ms']:.1f} ms vs {inner['page_1_ms']:.1f} ms "
          f"= {inner['deep_ms'] / inner['page_1_ms']:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
