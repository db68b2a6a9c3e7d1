// The console: sign in, pick a course and batch, request a dataset, follow and download it.

import "./style.css";
import { ApiError, call, query, type Dataset } from "./api";
import { showUsage } from "./chart";
import { CoursePicker, type Chosen } from "./courses";
import { datasetChoices, explain } from "./datasets";
import { byId, replace } from "./dom";
import { keyStrength } from "./keys";
import { RequestsTable } from "./requests";
import { currentSession, forgetSession, keepSession, type Session } from "./session";

// Datasets built for the whole organisation rather than for one batch (no batch selector in the request).
const ORGANISATION_DATASETS = new Set(["org-pii-exhaust"]);

let chosen: Chosen | null = null;
let table: RequestsTable | null = null;

function say(message: string, isError = false): void {
  const status = byId("status");
  const alert = byId("alert");
  if (isError) {
    status.textContent = "";
    alert.textContent = message;
  } else {
    alert.textContent = "";
    status.textContent = message;
  }
}

function show(signedIn: boolean): void {
  byId("signin").hidden = signedIn;
  byId("workspace").hidden = !signedIn;
  byId("signout").hidden = !signedIn;
}

async function signIn(session: Session): Promise<void> {
  const picker = new CoursePicker(session, choose, (message) => say(message, true));
  try {
    await picker.start();
  } catch (error) {
    forgetSession();
    show(false);
    say(error instanceof ApiError ? error.message : "Signing in failed.", true);
    byId<HTMLInputElement>("token").focus();
    return;
  }
  show(true);
  byId("who").textContent = `Channel ${session.channel}`;
  say("Signed in. Choose a course and a batch.");
  byId("workspace-heading").focus();
  void loadDatasets(session);
  void showUsage(session);
}

async function loadDatasets(session: Session): Promise<void> {
  try {
    const listed = await call<{ datasets: Dataset[] }>(session, "GET", `/api/dataset/v1/list${query({ type: "on-demand" })}`);
    replace(byId("dataset-choices"), datasetChoices(listed.datasets));
  } catch (error) {
    say(error instanceof ApiError ? error.message : String(error), true);
  }
}

function choose(next: Chosen): void {
  const session = currentSession();
  if (!session) return;
  chosen = next;
  byId("chosen").textContent = `${next.course.name}, batch ${next.batch.name || next.batch.batchId} (${next.batch.enrolments} enrolled)`;
  byId<HTMLFieldSetElement>("request-fields").disabled = false;
  byId("requests-caption").textContent = `Requests for ${next.course.name}`;
  table?.stop();
  table = new RequestsTable(session, next.course.courseId, say);
  table.refreshSoon();
}

async function submitRequest(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const session = currentSession();
  const form = event.target as HTMLFormElement;
  const keyInput = byId<HTMLInputElement>("encryption-key");
  const dataset = (form.elements.namedItem("dataset") as RadioNodeList | null)?.value;
  if (!session || !chosen || !dataset) {
    say("Choose a course, a batch and a dataset first.", true);
    return;
  }
  const request: Record<string, unknown> = {
    tag: chosen.course.courseId,
    dataset,
    datasetConfig: ORGANISATION_DATASETS.has(dataset) ? {} : { batchId: chosen.batch.batchId },
    encryptionKey: keyInput.value,
  };
  const button = byId<HTMLButtonElement>("submit-request");
  button.disabled = true;
  try {
    await call(session, "POST", "/api/dataset/v1/request/submit", { request });
    // The password is sent once and never kept: the field is emptied as soon as the service has it.
    keyInput.value = "";
    updateStrength();
    say(`Requested ${explain({ datasetId: dataset } as Dataset).title}. Its progress is shown in the table below.`);
    table?.refreshSoon();
  } catch (error) {
    say(error instanceof ApiError ? error.message : String(error), true);
  } finally {
    button.disabled = false;
  }
}

function updateStrength(): void {
  const key = byId<HTMLInputElement>("encryption-key").value;
  const hint = byId("key-strength");
  if (!key) {
    hint.textContent = "";
    hint.className = "hint";
    return;
  }
  const strength = keyStrength(key);
  hint.textContent = strength.words;
  hint.className = `hint strength-${strength.level}`;
}

function start(): void {
  byId<HTMLFormElement>("signin-form").onsubmit = (event) => {
    event.preventDefault();
    const token = byId<HTMLInputElement>("token");
    const channel = byId<HTMLInputElement>("channel");
    const session = { token: token.value.trim(), channel: channel.value.trim() };
    token.value = "";
    if (!session.token || !session.channel) {
      say("Enter your token and your channel.", true);
      return;
    }
    keepSession(session);
    void signIn(session);
  };
  byId("signout").onclick = () => {
    table?.stop();
    table = null;
    chosen = null;
    forgetSession();
    show(false);
    replace(byId("course-list"));
    say("Signed out.");
  };
  byId<HTMLFormElement>("request-form").onsubmit = (event) => void submitRequest(event);
  byId("encryption-key").oninput = updateStrength;
  const session = currentSession();
  show(false);
  if (session) {
    byId<HTMLInputElement>("channel").value = session.channel;
    void signIn(session);
  }
}

start();
