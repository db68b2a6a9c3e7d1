// summary-rollup of the last 30 days: enrolments and completions per day as an inline SVG chart, beside its files.

import { ApiError, call, query } from "./api";
import { byId, h, replace } from "./dom";
import type { Session } from "./session";

export const CHART_DAYS = 30;
// summary-rollup answers at most 10 days per call (its registry limits.maxDateRangeDays).
const DAYS_PER_CALL = 10;
const SVG = "http://www.w3.org/2000/svg";

export interface DayCounts {
  date: string;
  enrolments: number;
  completions: number;
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function lastDays(today: Date, count: number): string[] {
  return Array.from({ length: count }, (_, index) => {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - count + index));
    return isoDay(day);
  });
}

/** The channel's day total (the row with an empty content_id) of a summary-rollup CSV. */
export function dayTotals(csv: string): { enrolments: number; completions: number } | null {
  const lines = csv.trim().split(/\r?\n/);
  const header = (lines.shift() ?? "").split(",");
  const column = (name: string) => header.indexOf(name);
  const [content, enrolments, completions] = [column("content_id"), column("enrolments"), column("completions")];
  if (content < 0 || enrolments < 0 || completions < 0) return null;
  for (const line of lines) {
    const cells = line.split(",");
    if (cells[content] === "") return { enrolments: Number(cells[enrolments]) || 0, completions: Number(cells[completions]) || 0 };
  }
  return null;
}

function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Two lines over the days, with axes, a legend and a title and description for screen readers. */
export function lineChart(days: DayCounts[]): SVGElement {
  const width = 640, height = 240, left = 40, right = 12, top = 16, bottom = 36;
  const highest = Math.max(1, ...days.flatMap((day) => [day.enrolments, day.completions]));
  const x = (index: number) => left + (index * (width - left - right)) / Math.max(1, days.length - 1);
  const y = (value: number) => top + (height - top - bottom) * (1 - value / highest);
  const total = (key: "enrolments" | "completions") => days.reduce((sum, day) => sum + day[key], 0);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title chart-desc", class: "chart" });
  chart.append(
    svg("title", { id: "chart-title" }, "Enrolments and completions per day"),
    svg("desc", { id: "chart-desc" }, `${days[0]?.date ?? ""} to ${days.at(-1)?.date ?? ""}: ${total("enrolments")} enrolments and ${total("completions")} completions in all.`),
    svg("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), class: "axis" }),
    svg("line", { x1: left, y1: top, x2: left, y2: y(0), class: "axis" }),
    svg("text", { x: left - 6, y: y(highest) + 4, "text-anchor": "end", class: "tick" }, String(highest)),
    svg("text", { x: left - 6, y: y(0) + 4, "text-anchor": "end", class: "tick" }, "0"),
  );
  for (const index of [0, Math.floor((days.length - 1) / 2), days.length - 1]) {
    if (days[index]) chart.append(svg("text", { x: x(index), y: height - 14, "text-anchor": "middle", class: "tick" }, days[index].date.slice(5)));
  }
  for (const [key, label, offset] of [["enrolments", "Enrolments", 0], ["completions", "Completions", 130]] as const) {
    const points = days.map((day, index) => `${x(index).toFixed(1)},${y(day[key]).toFixed(1)}`).join(" ");
    chart.append(
      svg("polyline", { points, class: `series ${key}`, fill: "none" }),
      svg("rect", { x: left + 10 + offset, y: height - 10, width: 12, height: 4, class: `swatch ${key}` }),
      svg("text", { x: left + 26 + offset, y: height - 5, class: "tick" }, label),
    );
  }
  return chart;
}

async function dailyFiles(session: Session, days: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (let start = 0; start < days.length; start += DAYS_PER_CALL) {
    const range = days.slice(start, start + DAYS_PER_CALL);
    const answer = await call<{ periodWiseFiles: Record<string, string[]> }>(
      session,
      "GET",
      `/api/data/v3/dataset/get/summary-rollup${query({ from: range[0], to: range.at(-1) })}`,
    );
    for (const [day, links] of Object.entries(answer.periodWiseFiles)) found.set(day, links);
  }
  return found;
}

export async function showUsage(session: Session, today = new Date()): Promise<void> {
  const area = byId("usage-chart");
  const list = byId("usage-files");
  area.setAttribute("aria-busy", "true");
  try {
    const days = lastDays(today, CHART_DAYS);
    const files = await dailyFiles(session, days);
    const counts: DayCounts[] = [];
    for (const day of days) {
      let totals = { enrolments: 0, completions: 0 };
      for (const link of files.get(day) ?? []) {
        const answer = await fetch(link, { cache: "no-store" });
        const found = answer.ok ? dayTotals(await answer.text()) : null;
        if (found) totals = found;
      }
      counts.push({ date: day, ...totals });
    }
    replace(area, lineChart(counts));
    const links = [...files.entries()].reverse();
    replace(
      list,
      ...(links.length
        ? links.flatMap(([day, urls]) => urls.map((url, index) => h("li", {}, h("a", { href: url, download: `summary-rollup-${day}.csv` }, `summary-rollup ${day}${urls.length > 1 ? ` part ${index + 1}` : ""}.csv`))))
        : [h("li", {}, "No daily file in the last 30 days.")]),
    );
  } catch (error) {
    replace(area, h("p", { class: "notice" }, error instanceof ApiError ? error.message : "The daily files could not be read."));
    if (list.parentElement) list.parentElement.hidden = true;
  } finally {
    area.removeAttribute("aria-busy");
  }
}
