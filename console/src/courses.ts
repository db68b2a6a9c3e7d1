// The course and batch picker: a searchable, paged list of the courses the caller may request exports of.

import { ApiError, call, query, type Batch, type Course, type CoursePage } from "./api";
import { byId, h, replace } from "./dom";
import type { Session } from "./session";

export const COURSES_PER_PAGE = 10;
const SEARCH_DELAY_MS = 300;

export interface Chosen {
  course: Course;
  batch: Batch;
}

function dates(batch: Batch): string {
  if (batch.startDate && batch.endDate) return `${batch.startDate} to ${batch.endDate}`;
  if (batch.startDate) return `from ${batch.startDate}, no end date`;
  return "no dates";
}

export class CoursePicker {
  private cursors: (string | undefined)[] = [undefined];
  private searchTimer: number | undefined;
  private searchText = "";

  constructor(
    private readonly session: Session,
    private readonly onChoose: (chosen: Chosen) => void,
    private readonly onError: (message: string) => void,
  ) {
    const search = byId<HTMLInputElement>("course-search");
    search.value = "";
    search.oninput = () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => this.search(search.value), SEARCH_DELAY_MS);
    };
    byId<HTMLFormElement>("course-search-form").onsubmit = (event) => {
      event.preventDefault();
      window.clearTimeout(this.searchTimer);
      void this.search(search.value);
    };
  }

  async search(text: string): Promise<void> {
    this.searchText = text.trim();
    this.cursors = [undefined];
    await this.show(0);
  }

  /** The first page: also proves the token and the channel (a 401 or 403 reaches the caller). */
  async start(): Promise<CoursePage> {
    return this.show(0, true);
  }

  private async show(index: number, rethrow = false): Promise<CoursePage> {
    const list = byId("course-list");
    list.setAttribute("aria-busy", "true");
    try {
      const page = await call<CoursePage>(
        this.session,
        "GET",
        `/api/dataset/v1/courses${query({ q: this.searchText, limit: COURSES_PER_PAGE, cursor: this.cursors[index] })}`,
      );
      this.cursors[index + 1] = page.nextCursor;
      this.render(page, index);
      return page;
    } catch (error) {
      if (rethrow || !(error instanceof ApiError)) throw error;
      this.onError(error.message);
      return { count: 0, scope: "", courses: [] };
    } finally {
      list.removeAttribute("aria-busy");
    }
  }

  private render(page: CoursePage, index: number): void {
    byId("course-scope").textContent = `Showing ${page.scope}.`;
    const summary = page.count === 0
      ? (this.searchText ? `No course matches “${this.searchText}”.` : "No course you may request exports of.")
      : `${page.count} course${page.count === 1 ? "" : "s"}${this.searchText ? ` matching “${this.searchText}”` : ""}, page ${index + 1} of ${Math.max(1, Math.ceil(page.count / COURSES_PER_PAGE))}.`;
    byId("course-count").textContent = summary;
    replace(
      byId("course-list"),
      ...page.courses.map((course) =>
        h(
          "li",
          { class: "course" },
          h("h3", { id: `course-${course.courseId}` }, course.name, " ", h("span", { class: "id" }, course.courseId)),
          h(
            "ul",
            { class: "batches", "aria-labelledby": `course-${course.courseId}` },
            ...course.batches.map((batch) => {
              const id = `batch-${batch.batchId}`;
              return h(
                "li",
                {},
                h("input", {
                  type: "radio",
                  name: "batch",
                  id,
                  value: batch.batchId,
                  onchange: () => this.onChoose({ course, batch }),
                }),
                h(
                  "label",
                  { for: id },
                  h("span", { class: "batch-name" }, batch.name || batch.batchId),
                  h("span", { class: "hint" }, ` ${dates(batch)} · ${batch.enrolments} enrolled · ${batch.batchId}`),
                ),
              );
            }),
          ),
        ),
      ),
    );
    const previous = byId<HTMLButtonElement>("course-previous");
    const next = byId<HTMLButtonElement>("course-next");
    previous.disabled = index === 0;
    next.disabled = !page.nextCursor;
    previous.onclick = () => void this.show(index - 1);
    next.onclick = () => void this.show(index + 1);
  }
}
