import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AdminApi } from "../routes.ts";

const PAGE_FILES = ["dashboard.html", "dashboard.css", "dashboard.js"] as const;

/** The folder of the page's files: beside this module, or in the sources when running a compiled build. */
function pageFolder(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const fromBuild = fileURLToPath(new URL("../../../../src/admin/dashboard/", import.meta.url));
  return existsSync(`${here}${PAGE_FILES[0]}`) ? here : fromBuild;
}

/** The page, its style and script put inline: one response, nothing fetched from elsewhere. */
export function dashboardPage(folder = pageFolder()): string {
  const [html, css, js] = PAGE_FILES.map((name) => readFileSync(`${folder}${name}`, "utf8"));
  return html!.replace("/*STYLE*/", () => css!).replace("/*SCRIPT*/", () => js!);
}

/** Serves the operator's dashboard at / and /dashboard (read once, at start). */
export function registerDashboard(admin: AdminApi): void {
  const page = dashboardPage();
  const serve = () => ({ text: page, type: "text/html; charset=utf-8" });
  admin.get("/", serve);
  admin.get("/dashboard", serve);
}
