import { describe } from "vitest";
import { schedulerStep } from "./scheduler.js";
import { followerStepCases } from "./testing.js";

describe("the kube-scheduler step", () => followerStepCases(schedulerStep, "kube-scheduler"));
