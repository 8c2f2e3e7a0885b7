import { describe } from "vitest";
import { controllerManagerStep } from "./controller-manager.js";
import { followerStepCases } from "./testing.js";

describe("the kube-controller-manager step", () => followerStepCases(controllerManagerStep, "kube-controller-manager"));
