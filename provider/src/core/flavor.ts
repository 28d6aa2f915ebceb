export const FLAVORS = ["mysql", "mariadb"] as const;
export type Flavor = (typeof FLAVORS)[number];

/** Detected from VERSION(), never configured: MariaDB says so in its version string. */
export function flavorOfVersion(version: string): Flavor {
  return /mariadb/i.test(version) ? "mariadb" : "mysql";
}

/** Numeric major.minor.patch of a server version string, for feature checks. */
export function versionNumber(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

export function versionAtLeast(version: string, major: number, minor: number, patch = 0): boolean {
  const [a, b, c] = versionNumber(version);
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}
