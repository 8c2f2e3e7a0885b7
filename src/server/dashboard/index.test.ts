import { describe, expect, it } from "vitest";
import type { Manager } from "../../kube/manager.js";
import { addDashboard, isLoopbackAddress } from "./index.js";

describe("the dashboard without a token", () => {
  it.each([
    ["127.0.0.1:8080", true],
    ["127.1.2.3:9", true],
    ["localhost:8080", true],
    ["[::1]:8080", true],
    ["::1", true],
    ["0.0.0.0:8080", false],
    [":8080", false],
    ["10.0.0.5:8080", false],
    ["[::]:8080", false],
    ["127.0.0.1.example.com:80", false],
    ["127.0.0.256:80", false],
  ])("%s is loopback: %s", (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });

  it("is refused on an address others can reach, naming both ways out", () => {
    // Refused before anything is read from the manager but its server.
    const manager = { server: {} } as unknown as Manager;
    expect(() => addDashboard(manager, { listenAddress: "0.0.0.0:8080" })).toThrow(
      /--dashboard without --dashboard-auth-token-file .* --metrics-address 0\.0\.0\.0:8080: give a token file, or bind --metrics-address to 127\.0\.0\.1/,
    );
    expect(() => addDashboard(manager, {})).toThrow(/--metrics-address \(unknown\)/);
  });
});
