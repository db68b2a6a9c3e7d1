// Calls to the service's API (same origin: the console and /api/ share one host), answers in its envelope.

import type { Session } from "./session";

export interface Batch {
  batchId: string;
  name: string;
  startDate?: string;
  endDate?: string;
  enrolments: number;
}

export interface Course {
  courseId: string;
  name: string;
  status: string;
  requiresConsent: boolean;
  batches: Batch[];
}

export interface CoursePage {
  count: number;
  scope: string;
  courses: Course[];
  nextCursor?: string;
}

export interface Dataset {
  datasetId: string;
  type: string;
  description: string;
  encryptionKeyRequired: boolean;
  requestable: boolean;
}

export interface FileLink {
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
  url: string;
}

export type Status = "SUBMITTED" | "PROCESSING" | "SUCCESS" | "FAILED" | "CANCELLED";

export interface Job {
  requestId: string;
  tag: string;
  dataset: string;
  datasetConfig: { batchId?: string; batchFilter?: string[] };
  status: Status;
  statusMessage?: string;
  lastUpdated: number;
  jobStats: { dtJobSubmitted: number; dtJobCompleted?: number };
  progress: { batchesTotal: number; batchesDone: number; rowsWritten: number; bytesWritten: number };
  files: FileLink[];
  filesTotal?: number;
  filesNextCursor?: string;
}

export interface DailyFile {
  date: string;
  url: string;
}

/** A refusal or failure, with the sentence to show a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Envelope<T> {
  result?: T;
  params?: { errmsg?: string; err?: string };
}

/** What a person should read for a failed call: the status in words, the service's own reason when it gave one. */
export function plainMessage(status: number, reason: string | undefined): string {
  const why = reason ? ` ${reason.endsWith(".") ? reason : `${reason}.`}` : "";
  if (status === 401) return "Your token was not accepted: it is unknown, expired or revoked. Sign in again with a valid token.";
  if (status === 403) return `You are not allowed to do this.${why}`;
  if (status === 404) return `Not found: it may have been deleted, or it is not yours.${why}`;
  if (status === 409) return `Not possible now.${why}`;
  if (status === 429) return "The service is busy or your organisation has too many open requests; try again in a minute.";
  if (status >= 500) return `The service had a problem (error ${status}); please try again later.`;
  return `Please check your input.${why}`;
}

export async function call<T>(session: Session, method: string, path: string, body?: unknown): Promise<T> {
  let answer: Response;
  try {
    answer = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${session.token}`,
        "X-Channel-Id": session.channel,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "The service could not be reached. Check your connection and try again.");
  }
  let document: Envelope<T> = {};
  try {
    document = (await answer.json()) as Envelope<T>;
  } catch {
    // A gateway error page or an empty answer: the status alone speaks.
  }
  if (!answer.ok) throw new ApiError(answer.status, plainMessage(answer.status, document.params?.errmsg));
  return document.result as T;
}

export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
