#!/usr/bin/env python3
"""Draws a cfutures trace file (trace.hpp; e.g. `tour --trace run.json`) as an SVG timeline:
one lane per thread that ran calls, grouped by process, one box per call, coloured by
executor. No browser needed (Perfetto shows the same file interactively).

    python3 scripts/trace_to_svg.py run.json trace.svg [--width 1200] [--from-ms A --to-ms B]
"""
import argparse
import collections
import html
import json

COLOURS = {"thread_pool": "#4e79a7", "process_pool": "#f28e2b", "mpi": "#59a14f"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("svg")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--from-ms", type=float)
    parser.add_argument("--to-ms", type=float)
    args = parser.parse_args()
    with open(args.trace) as f:
        events = json.load(f)["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in events
                 if e.get("ph") == "M" and e.get("name") == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e.get("ph") == "M" and e.get("name") == "thread_name"}
    calls = [e for e in events if e.get("ph") == "X"]
    if not calls:
        raise SystemExit("no calls in the trace")
    origin = min(e["ts"] for e in calls)
    start = origin + (args.from_ms or 0) * 1e3
    end = origin + args.to_ms * 1e3 if args.to_ms else max(e["ts"] + e["dur"] for e in calls)
    calls = [e for e in calls if e["ts"] + e["dur"] >= start and e["ts"] <= end]
    lanes = collections.OrderedDict()
    for e in sorted(calls, key=lambda e: (e["pid"], e["tid"])):
        lanes.setdefault((e["pid"], e["tid"]), []).append(e)
    label_w, lane_h, top = 340, 18, 40
    plot_w = args.width - label_w - 20
    scale = plot_w / max(end - start, 1.0)
    height = top + lane_h * len(lanes) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{args.width}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{args.width}" height="{height}" fill="white"/>',
           f'<text x="10" y="18" font-size="14">cfutures trace: {len(calls)} calls, '
           f'{len(lanes)} threads, {(end - start) / 1e3:.1f} ms</text>']
    for i, ((pid, tid), lane) in enumerate(lanes.items()):
        y = top + i * lane_h
        name = processes.get(pid, f"pid {pid}")
        thread = threads.get((pid, tid), f"tid {tid}")
        out.append(f'<rect x="0" y="{y}" width="{args.width}" height="{lane_h}" '
                   f'fill="{"#f4f4f4" if i % 2 else "#ffffff"}"/>')
        out.append(f'<text x="6" y="{y + 13}">{html.escape(name[:38])} · '
                   f'{html.escape(thread[:16])}</text>')
        for e in lane:
            x = label_w + (max(e["ts"], start) - start) * scale
            w = max(1.0, min(e["dur"], end - e["ts"]) * scale)
            colour = COLOURS.get(e["args"].get("executor"), "#999999")
            tip = html.escape(f'{e["name"]} #{e["args"].get("id")} attempt '
                              f'{e["args"].get("attempt")}: {e["dur"] / 1e3:.2f} ms')
            out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{lane_h - 4}" '
                       f'fill="{colour}"><title>{tip}</title></rect>')
    axis_y = top + lane_h * len(lanes) + 14
    for k in range(6):
        t = (end - start) * k / 5
        x = label_w + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y - 10}" '
                   'stroke="#cccccc"/>')
        out.append(f'<text x="{x:.1f}" y="{axis_y}" text-anchor="middle">'
                   f'{t / 1e3:.0f} ms</text>')
    for j, (executor, colour) in enumerate(COLOURS.items()):
        x = label_w + j * 140
        out.append(f'<rect x="{x}" y="{axis_y + 8}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{axis_y + 17}">{executor}</text>')
    out.append("</svg>")
    with open(args.svg, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
