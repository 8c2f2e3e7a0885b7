import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { imageRegistryError } from "../api/scheduling.js";
import { parseImageRegistry } from "./controller.js";

// --image-registry takes exactly what spec.imageRegistry takes (src/api/scheduling.test.ts holds the cases of the
// rule itself), and says so in the same words.
describe("--image-registry", () => {
  it.each(["registry.k8s.io", "mirror.local:5000/k8s", "[fd00::1]:5000/k8s", "localhost"])("accepts %s", (value) => {
    expect(imageRegistryError(value)).toBeUndefined();
    expect(parseImageRegistry(value)).toBe(value);
  });

  it.each(["https://mirror.local", "mirror.local/k8s:v1", "mirror.local/", "mirror local"])("refuses %s", (value) => {
    const rule = imageRegistryError(value);
    expect(rule).toBeDefined();
    expect(() => parseImageRegistry(value)).toThrow(InvalidArgumentError);
    expect(() => parseImageRegistry(value)).toThrow(rule);
  });

  it("reads an empty --image-registry (an empty environment variable) as unset", () => {
    expect(parseImageRegistry("")).toBe("");
  });
});
