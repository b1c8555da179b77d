import type { ClientOrigin, Importance, Recurrence, Sensitivity, StoredBody } from './common.js';

/** A task's recurrence: the calendar rule plus the Tasks-only fields. */
export interface TaskRecurrence extends Recurrence {
  /** `Start`: first occurrence of the series. */
  start?: Date;
  /** `Regenerate`: the next occurrence is created relative to completion, not on a fixed schedule. */
  regenerate?: boolean;
  /** `DeadOccur`: the current occurrence is the last one. */
  deadOccur?: boolean;
}

/**
 * A Tasks item (MS-ASTASK). `startDate`/`dueDate` are local wall-clock times, kept in the Date's UTC fields;
 * `utcStartDate`/`utcDueDate` are the same moments as real instants.
 */
export interface TaskData {
  /** Set by Sync for items a device added; see {@link ClientOrigin}. */
  clientOrigin?: ClientOrigin;
  subject?: string;
  body?: StoredBody;
  startDate?: Date;
  utcStartDate?: Date;
  dueDate?: Date;
  utcDueDate?: Date;
  complete: boolean;
  dateCompleted?: Date;
  importance?: Importance;
  sensitivity?: Sensitivity;
  reminderSet?: boolean;
  reminderTime?: Date;
  recurrence?: TaskRecurrence;
  categories?: string[];
  /** `OrdinalDate` / `SubOrdinalDate` (14.0+): sort keys used when a flagged message becomes a task. */
  ordinalDate?: Date;
  subOrdinalDate?: string;
}
