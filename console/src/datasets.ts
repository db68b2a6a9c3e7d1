// The on-demand datasets the caller's role may request, each with what it holds and who is in it (consent).

import type { Dataset } from "./api";
import { h } from "./dom";

interface Explained {
  title: string;
  holds: string;
  consent: string;
}

// Seed 002's appendices, in a sentence each; a dataset registered later falls back to its own description.
const EXPLAINED: Record<string, Explained> = {
  "progress-exhaust": {
    title: "Course progress",
    holds: "Each enrolled learner's progress in the batch: completion percentage, completed units, scores and certificates.",
    consent: "No consent needed: progress is shared with the course's mentors and admins.",
  },
  "userinfo-exhaust": {
    title: "Learner details",
    holds: "Personal details of the batch's learners: name, location, school, organisation, email and phone.",
    consent: "Only learners who consented to share their details with the course's organisation are included.",
  },
  "response-exhaust": {
    title: "Assessment responses",
    holds: "Every answer to every question of every assessment attempt in the batch, with scores and durations.",
    consent: "No consent needed: responses are listed by user id, without personal details.",
  },
  "org-pii-exhaust": {
    title: "Organisation-level learner details",
    holds: "Personal details of users across the organisation, for the organisation's own admins.",
    consent: "Only users who gave the organisation an active organisation-level consent are included.",
  },
};

export function explain(dataset: Dataset): Explained {
  return (
    EXPLAINED[dataset.datasetId] ?? {
      title: dataset.datasetId,
      holds: dataset.description || "A dataset registered for this service.",
      consent: "See the dataset's documentation for who is included.",
    }
  );
}

export function datasetTitle(datasetId: string): string {
  return EXPLAINED[datasetId]?.title ?? datasetId;
}

/** The dataset choice: radio buttons of the datasets the caller may request (the others are not offered). */
export function datasetChoices(datasets: Dataset[]): HTMLElement {
  const offered = datasets.filter((dataset) => dataset.type === "on-demand" && dataset.requestable);
  if (offered.length === 0) {
    return h("p", { class: "notice" }, "Your role may not request any dataset. Ask your organisation's admin for a role.");
  }
  return h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, "Dataset"),
    ...offered.map((dataset, index) => {
      const about = explain(dataset);
      const id = `dataset-${dataset.datasetId}`;
      return h(
        "div",
        { class: "choice" },
        h("input", { type: "radio", name: "dataset", id, value: dataset.datasetId, required: true, checked: index === 0, "aria-describedby": `${id}-about` }),
        h("label", { for: id }, h("strong", {}, about.title), ` (${dataset.datasetId})`),
        h("p", { id: `${id}-about`, class: "hint" }, `${about.holds} ${about.consent}`),
      );
    }),
  );
}
