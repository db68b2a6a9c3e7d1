// A course's requests in a table that refreshes itself, with backoff, while any of them is still open.

import { ApiError, call, query, type FileLink, type Job, type Status } from "./api";
import { datasetTitle } from "./datasets";
import { byId, bytes, h, replace, when } from "./dom";
import type { Session } from "./session";

const FIRST_DELAY_MS = 1500;
const BACKOFF = 1.5;
const LONGEST_DELAY_MS = 30_000;
const JOBS_SHOWN = 20;
const OPEN: Status[] = ["SUBMITTED", "PROCESSING"];

const STATUS_WORDS: Record<Status, string> = {
  SUBMITTED: "Waiting to start",
  PROCESSING: "Being built",
  SUCCESS: "Ready to download",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

/** A finished request whose files were deleted (or that has none) answers SUCCESS without a file. */
function withoutFiles(job: Job): boolean {
  return job.status === "SUCCESS" && job.files.length === 0 && !job.filesTotal;
}

export function statusInWords(job: Job): HTMLElement {
  const words = withoutFiles(job) ? "Finished, no files to download" : (STATUS_WORDS[job.status] ?? job.status);
  const message =
    job.statusMessage ?? (job.status === "FAILED" ? "The build did not succeed; you may submit the request again." : "");
  return h("div", {}, h("strong", {}, words), message ? h("div", { class: "message" }, message) : null);
}

function batchOf(job: Job): string {
  const config = job.datasetConfig ?? {};
  if (config.batchId) return config.batchId;
  if (config.batchFilter) return config.batchFilter.join(", ");
  return "whole organisation";
}

export class RequestsTable {
  private timer: number | undefined;
  private delay = FIRST_DELAY_MS;
  private stopped = false;
  private readonly files = new Map<string, { links: FileLink[]; more?: string }>();
  private lastShown = "";

  constructor(
    private readonly session: Session,
    private readonly tag: string,
    private readonly onMessage: (message: string, isError: boolean) => void,
  ) {}

  /** Refresh now and keep refreshing, quickly again (after a submit, cancel or delete). */
  refreshSoon(): void {
    this.delay = FIRST_DELAY_MS;
    window.clearTimeout(this.timer);
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
  }

  private async refresh(): Promise<void> {
    if (this.stopped) return;
    let jobs: Job[] = [];
    try {
      const page = await call<{ jobs: Job[] }>(
        this.session,
        "GET",
        `/api/dataset/v1/request/list/${encodeURIComponent(this.tag)}${query({ limit: JOBS_SHOWN })}`,
      );
      jobs = page.jobs;
      this.render(jobs);
    } catch (error) {
      this.onMessage(error instanceof ApiError ? error.message : String(error), true);
    }
    if (this.stopped) return;
    const anyOpen = jobs.some((job) => OPEN.includes(job.status));
    if (anyOpen) {
      this.timer = window.setTimeout(() => void this.refresh(), this.delay);
      this.delay = Math.min(LONGEST_DELAY_MS, this.delay * BACKOFF);
      byId("requests-refresh").textContent = `Refreshing automatically (next in ${Math.round(this.delay / 1000)} s).`;
    } else {
      byId("requests-refresh").textContent = jobs.length ? "Every request has finished." : "";
    }
  }

  private render(jobs: Job[]): void {
    // Links change at every answer: compare what a person sees, so a refresh that changes nothing keeps the focus.
    const shown = JSON.stringify(jobs.map(({ files: _f, ...rest }) => rest)) + JSON.stringify([...this.files.keys()]);
    if (shown === this.lastShown) return;
    this.lastShown = shown;
    const focused = document.activeElement?.id;
    const body = byId("requests-body");
    if (jobs.length === 0) {
      replace(body, h("tr", {}, h("td", { colspan: 7 }, "No request for this course yet.")));
    } else {
      replace(body, ...jobs.flatMap((job) => this.rows(job)));
    }
    if (focused) document.getElementById(focused)?.focus();
  }

  private rows(job: Job): HTMLElement[] {
    const { batchesDone, batchesTotal, rowsWritten } = job.progress;
    const progressText = `${batchesDone} of ${batchesTotal || "?"} batches, ${rowsWritten} rows`;
    const actions: HTMLElement[] = [];
    if (job.status === "SUCCESS" && !withoutFiles(job)) {
      actions.push(h("button", { type: "button", id: `files-${job.requestId}`, onclick: () => void this.showFiles(job) }, "Get files"));
    }
    if (OPEN.includes(job.status)) {
      actions.push(h("button", { type: "button", id: `cancel-${job.requestId}`, onclick: () => void this.cancel(job) }, "Cancel"));
    } else if (!withoutFiles(job)) {
      actions.push(h("button", { type: "button", class: "danger", id: `delete-${job.requestId}`, onclick: () => void this.remove(job) }, "Delete"));
    }
    const row = h(
      "tr",
      { "data-request-id": job.requestId, "data-status": job.status },
      h("td", {}, datasetTitle(job.dataset), h("div", { class: "id" }, job.requestId)),
      h("td", { class: "id" }, batchOf(job)),
      h("td", { class: `status status-${job.status.toLowerCase()}` }, statusInWords(job)),
      h(
        "td",
        {},
        h("progress", { max: Math.max(1, batchesTotal), value: batchesDone, "aria-label": `Progress: ${progressText}` }),
        h("div", { class: "hint" }, progressText),
      ),
      h("td", {}, when(job.jobStats.dtJobSubmitted)),
      h("td", {}, when(job.jobStats.dtJobCompleted)),
      h("td", { class: "actions" }, ...actions),
    );
    const files = this.files.get(job.requestId);
    if (!files || job.status !== "SUCCESS" || withoutFiles(job)) return [row];
    return [row, this.filesRow(job, files.links, files.more)];
  }

  private filesRow(job: Job, links: FileLink[], more?: string): HTMLElement {
    return h(
      "tr",
      { class: "files" },
      h(
        "td",
        { colspan: 7 },
        h(
          "ul",
          { "aria-label": `Files of request ${job.requestId}` },
          ...links.map((file) =>
            h(
              "li",
              {},
              h("a", { href: file.url, download: file.name, class: "download" }, `Download ${file.name}`),
              ` (${bytes(file.bytes)}, ${file.rows} rows) `,
              h("span", { class: "hint" }, "SHA-256: "),
              h("code", { class: "sha256" }, file.sha256),
            ),
          ),
        ),
        more ? h("button", { type: "button", onclick: () => void this.showFiles(job, more) }, "More files") : null,
        h("p", { class: "hint" }, "Links are fresh for a limited time; press “Get files” again for new ones."),
      ),
    );
  }

  private async showFiles(job: Job, cursor?: string): Promise<void> {
    try {
      const read = await call<Job>(
        this.session,
        "GET",
        `/api/dataset/v1/request/read/${encodeURIComponent(job.tag)}${query({ requestId: job.requestId, cursor })}`,
      );
      const earlier = cursor ? (this.files.get(job.requestId)?.links ?? []) : [];
      this.files.set(job.requestId, { links: [...earlier, ...read.files], more: read.filesNextCursor });
      this.lastShown = "";
      this.render(await this.currentJobs());
      this.onMessage(`Fresh download links for ${datasetTitle(job.dataset)} are below its row.`, false);
    } catch (error) {
      this.onMessage(error instanceof ApiError ? error.message : String(error), true);
    }
  }

  private async currentJobs(): Promise<Job[]> {
    const page = await call<{ jobs: Job[] }>(
      this.session,
      "GET",
      `/api/dataset/v1/request/list/${encodeURIComponent(this.tag)}${query({ limit: JOBS_SHOWN })}`,
    );
    return page.jobs;
  }

  private async cancel(job: Job): Promise<void> {
    if (!window.confirm(`Cancel the ${datasetTitle(job.dataset)} request? Files built so far are removed.`)) return;
    await this.lifecycle(job, "cancel", "cancelled");
  }

  private async remove(job: Job): Promise<void> {
    if (!window.confirm(`Delete the files of the ${datasetTitle(job.dataset)} request now? This cannot be undone.`)) return;
    await this.lifecycle(job, "delete", "deleted");
  }

  private async lifecycle(job: Job, operation: "cancel" | "delete", done: string): Promise<void> {
    try {
      await call<Job>(
        this.session,
        "POST",
        `/api/dataset/v1/request/${operation}/${encodeURIComponent(job.tag)}${query({ requestId: job.requestId })}`,
      );
      this.files.delete(job.requestId);
      this.onMessage(`The ${datasetTitle(job.dataset)} request was ${done}.`, false);
    } catch (error) {
      this.onMessage(error instanceof ApiError ? error.message : String(error), true);
    }
    this.refreshSoon();
  }
}
