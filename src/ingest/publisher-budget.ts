/** Publishers live at the start of a window needed before its cost per publisher is trusted. */
const MIN_SAMPLE = 10;
/**
 * A window teaches the cost of a publisher only when few joined lately (at most this share of
 * those live): connection set-up (handshake, authorisation, catalog writes) costs more than
 * steady media, and would make a burst look dearer than it stays.
 */
const MAX_JOINING_SHARE = 0.25;
/** Weight of the newest window in the running cost per publisher and the smoothed busy share. */
const SMOOTHING = 0.5;

export interface PublisherBudgetOptions {
  /** The event loop's busy share (0–1) that new publishers may bring it up to. */
  maxUtilization: number;
  /** Admissions per window before any cost per publisher is known (a cold start). */
  coldStartAdmissions: number;
  /** A cost per publisher remembered from an earlier run of this node (replaced as it is measured again). */
  rememberedCost?: number;
}

/**
 * How many more publishers this process can take, from what the ones it has cost. A new
 * publisher's load shows up in the event loop only once its media flows, so a burst of
 * connections (a failed node's publishers arriving at once) would all be let in before any
 * delay is measured. Instead each calm window's busy share is divided over the publishers
 * that were live through it, and a newcomer is admitted only if the current share plus that
 * cost for every recent admission, itself included, stays under the bound. Until a cost is
 * known (a process just started, or publishers keep pouring in) admissions per second are
 * capped, like TCP's slow start.
 */
export class PublisherBudget {
  /** The busy share smoothed over the last few windows: one second of connect work weighs half. */
  private utilization = 0;
  private costPerPublisher: number | undefined;
  /**
   * Until a calm window teaches the cost, busy windows give an upper bound of it (the joiners'
   * set-up counted in): it paces a storm after a cold start, but never says the process is full.
   */
  private provisionalCost: number | undefined;
  private measured = false;
  /** Admissions in the current window and in the one before (not yet fully in `utilization`). */
  private admittedNow = 0;
  private admittedBefore = 0;

  constructor(private readonly o: PublisherBudgetOptions) {
    this.costPerPublisher = o.rememberedCost;
  }

  /** End of a measurement window: the loop's busy share over it and the publishers live when it began. */
  observe(utilization: number, liveAtStart: number): void {
    this.utilization = this.measured ? SMOOTHING * utilization + (1 - SMOOTHING) * this.utilization : utilization;
    this.measured = true;
    const joining = this.admittedNow + this.admittedBefore;
    if (liveAtStart >= MIN_SAMPLE && joining <= MAX_JOINING_SHARE * liveAtStart) {
      const cost = utilization / liveAtStart;
      this.costPerPublisher = this.costPerPublisher === undefined ? cost : SMOOTHING * cost + (1 - SMOOTHING) * this.costPerPublisher;
    } else if (liveAtStart >= MIN_SAMPLE && this.costPerPublisher === undefined) {
      this.provisionalCost = utilization / liveAtStart;
    }
    this.admittedBefore = this.admittedNow;
    this.admittedNow = 0;
  }

  /** Why one more publisher does not fit, or undefined. */
  refusal(): string | undefined {
    const max = this.o.maxUtilization;
    const cost = this.costPerPublisher;
    if (cost === undefined) {
      if (this.utilization > max) return `event loop ${pct(this.utilization)} busy (limit ${pct(max)})`;
      if (this.admittedNow >= this.o.coldStartAdmissions) return `${this.admittedNow} publishers admitted in the last second, their cost not measured yet`;
      const bound = this.provisionalCost;
      if (bound !== undefined && this.utilization + bound * (this.admittedNow + this.admittedBefore + 1) > max) {
        return `event loop ${pct(this.utilization)} busy while publishers join, their cost not measured yet (limit ${pct(max)})`;
      }
      return undefined;
    }
    const projected = this.utilization + cost * (this.admittedNow + this.admittedBefore + 1);
    if (projected > max) return `event loop ${pct(this.utilization)} busy, ${pct(projected)} with one more publisher (limit ${pct(max)})`;
    return undefined;
  }

  /**
   * Why no more publishers fit for as long as those live stay, or undefined: the busy share
   * is over the bound, or (with a known cost) one more publisher would put it there even once
   * the recent joiners' set-up work is done. A newcomer refused by refusal() but not by this
   * may wait for room.
   */
  full(live: number): string | undefined {
    const max = this.o.maxUtilization;
    // while publishers are joining, part of the measured share is their set-up: only the
    // cost of those live is known to last
    const joining = this.admittedNow + this.admittedBefore > 0;
    if (!joining && this.utilization > max) return `event loop ${pct(this.utilization)} busy (limit ${pct(max)})`;
    const cost = this.costPerPublisher;
    if (cost === undefined) return undefined;
    const settled = joining ? cost * live : Math.max(this.utilization, cost * live);
    if (settled + cost > max) return `event loop ${pct(settled)} busy with ${live} publishers, ${pct(settled + cost)} with one more (limit ${pct(max)})`;
    return undefined;
  }

  /** The measured cost of one publisher (share of the event loop), if known. */
  get cost(): number | undefined {
    return this.costPerPublisher;
  }

  /** Counts an admission made after refusal() said yes. */
  admitted(): void {
    this.admittedNow++;
  }
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}
