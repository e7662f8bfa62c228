// The operator's dashboard: polls the admin API and draws what it answers. No library, no build step.
(() => {
  const TRAFFIC_POLL_MS = 1500;
  const STATE_POLL_MS = 5000;
  const HISTORY = 80;
  const COLORS = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#4b5563"];
  const SVG = "http://www.w3.org/2000/svg";

  /** Per chart: series name -> recent rates (bytes/s), oldest first. */
  const history = { topics: new Map(), clients: new Map() };

  const $ = (id) => document.getElementById(id);
  const text = (value) =>
    document.createTextNode(value === null || value === undefined ? "–" : String(value));

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    for (const child of children)
      node.append(typeof child === "object" && child !== null ? child : text(child));
    return node;
  }

  function table(target, headers, rows) {
    const head = el("tr", {}, ...headers.map((h) => el("th", {}, h)));
    target.replaceChildren(head, ...rows);
  }

  function rate(bytes) {
    if (!Number.isFinite(bytes)) return "–";
    const units = ["B/s", "KB/s", "MB/s", "GB/s"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`;
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok && path !== "/readyz") throw new Error(body.error || `${path}: HTTP ${response.status}`);
    return body;
  }

  function record(chart, entries) {
    const series = history[chart];
    const seen = new Set();
    for (const entry of entries) {
      seen.add(entry.key);
      let points = series.get(entry.key);
      if (!points) {
        points = { values: [], meta: entry };
        series.set(entry.key, points);
      }
      points.meta = entry;
      points.values.push(entry.rate);
      if (points.values.length > HISTORY) points.values.shift();
    }
    for (const [key, points] of series) {
      if (seen.has(key)) continue;
      points.meta = { ...points.meta, rate: 0, produce: 0, fetch: 0 };
      points.values.push(0);
      if (points.values.length > HISTORY) points.values.shift();
      if (points.values.every((v) => v === 0)) series.delete(key);
    }
  }

  function draw(chart, attribute) {
    const svg = $(`chart-${chart}`);
    const series = [...history[chart].entries()];
    const max = Math.max(1, ...series.flatMap(([, points]) => points.values));
    const lines = series.map(([key, points], i) => {
      const line = document.createElementNS(SVG, "polyline");
      const offset = HISTORY - points.values.length;
      line.setAttribute(
        "points",
        points.values
          .map((v, x) => `${((offset + x) / (HISTORY - 1)) * 800},${200 - (v / max) * 190}`)
          .join(" "),
      );
      line.setAttribute("stroke", COLORS[i % COLORS.length]);
      line.setAttribute(`data-${attribute}`, key);
      line.setAttribute("data-rate", String(points.meta.rate));
      line.setAttribute("data-produce-rate", String(points.meta.produce));
      line.setAttribute("data-fetch-rate", String(points.meta.fetch));
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${key}: ${rate(points.meta.rate)}`;
      line.append(title);
      return line;
    });
    svg.replaceChildren(...lines);
    table(
      $(`legend-${chart}`),
      [
        chart === "topics" ? "topic" : "client",
        chart === "topics" ? "cluster" : "principal",
        "produce",
        "fetch",
        "records/s in",
        "records/s out",
      ],
      series.map(([key, points], i) =>
        el(
          "tr",
          { [`data-${attribute}`]: key, "data-rate": points.meta.rate },
          el(
            "td",
            {},
            el("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }),
            key,
          ),
          el("td", {}, points.meta.detail ?? "–"),
          el("td", { class: "num" }, rate(points.meta.produce)),
          el("td", { class: "num" }, rate(points.meta.fetch)),
          el("td", { class: "num" }, (points.meta.produceRecords ?? 0).toFixed(1)),
          el("td", { class: "num" }, (points.meta.fetchRecords ?? 0).toFixed(1)),
        ),
      ),
    );
  }

  function ratesOf(entry, key, detail) {
    const produce = entry.produce?.bytesPerSecond ?? 0;
    const fetch = entry.fetch?.bytesPerSecond ?? 0;
    return {
      key,
      detail,
      produce,
      fetch,
      rate: produce + fetch,
      produceRecords: entry.produce?.recordsPerSecond ?? 0,
      fetchRecords: entry.fetch?.recordsPerSecond ?? 0,
    };
  }

  async function pollTraffic() {
    try {
      const traffic = await getJson("/api/traffic");
      for (const node of document.querySelectorAll(".window")) node.textContent = traffic.windowSeconds ?? 60;
      record(
        "topics",
        (traffic.topics || []).map((t) => ratesOf(t, t.topic, t.cluster)),
      );
      record(
        "clients",
        (traffic.clients || []).map((c) => ratesOf(c, c.clientId ?? "(none)", c.principal ?? "–")),
      );
      draw("topics", "topic");
      draw("clients", "client");
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      $("updated").textContent = `traffic: ${error.message}`;
    }
  }

  async function pollHealth() {
    try {
      const ready = await getJson("/readyz");
      const clusters = Object.entries(ready.clusters || {});
      $("health").replaceChildren(
        el(
          "span",
          { class: ready.ready ? "health-ok" : "health-bad", "data-ready": ready.ready },
          ready.ready ? "● ready" : "● not ready",
        ),
      );
      table(
        $("clusters"),
        ["cluster", "state", "brokers", "last refresh", "last error"],
        clusters.map(([name, c]) =>
          el(
            "tr",
            { "data-cluster": name, "data-reachable": c.reachable },
            el("td", {}, name),
            el("td", { class: c.reachable ? "ok" : "bad" }, c.reachable ? "reachable" : "unreachable"),
            el("td", { class: "num" }, c.brokers),
            el("td", {}, c.lastRefresh ? new Date(c.lastRefresh).toLocaleTimeString() : "–"),
            el("td", { class: "error" }, c.lastError ? c.lastError.message : ""),
          ),
        ),
      );
    } catch (error) {
      $("health").replaceChildren(
        el("span", { class: "health-bad" }, `● admin API unreachable: ${error.message}`),
      );
    }
  }

  async function pollTopics() {
    try {
      const view = await getJson("/api/topics");
      table(
        $("topics"),
        ["topic", "cluster", "virtual", "physical", "k", "physical leaders (node ids)", "virtual → physical"],
        view.topics.map((t) =>
          el(
            "tr",
            { "data-topic": t.topic },
            el("td", {}, t.topic),
            el("td", {}, t.cluster),
            el("td", { class: "num" }, t.virtualPartitions),
            el("td", { class: "num" }, t.physicalPartitions),
            el("td", { class: "num" }, t.virtualized ? t.k : 1),
            el("td", {}, t.physicalLeaders.map((p) => `${p.partition}@${p.leader}`).join(" ")),
            el(
              "td",
              {},
              t.virtualized
                ? t.partitions.map((p) => `${p.partition}→${p.physicalPartition}`).join(" ")
                : "not virtualized",
            ),
          ),
        ),
      );
    } catch (error) {
      $("topics").replaceChildren(el("tr", {}, el("td", { class: "error" }, error.message)));
    }
  }

  async function pollGroups() {
    try {
      const { groups } = await getJson("/api/groups");
      $("groups").replaceChildren(
        ...(groups.length === 0 ? [el("p", { class: "muted" }, "no consumer groups")] : []),
        ...groups.map((g) => {
          const rows = g.partitions.map((p) =>
            el(
              "tr",
              { "data-topic": p.topic, "data-partition": p.partition, "data-lag": p.lag },
              el("td", {}, p.topic),
              el("td", { class: "num" }, p.partition),
              el("td", { class: "num" }, p.committedOffset),
              el("td", { class: "num" }, p.logEndOffset),
              el("td", { class: `num${p.lag > 1000 ? " lag-high" : ""}` }, p.exact ? p.lag : `≈${p.lag}`),
            ),
          );
          const lagTable = el("table", {});
          table(lagTable, ["topic", "partition", "committed", "log end", "lag"], rows);
          return el(
            "div",
            { class: "group", "data-group": g.group },
            el(
              "h3",
              {},
              `${g.group} `,
              el(
                "span",
                { class: "muted" },
                `${g.type} · ${g.state} · ${g.members.length} members · lag ${g.totalLag}`,
              ),
            ),
            lagTable,
          );
        }),
      );
    } catch (error) {
      $("groups").replaceChildren(el("p", { class: "error" }, error.message));
    }
  }

  async function pollConnections() {
    try {
      const { connections } = await getJson("/api/connections");
      table(
        $("connections"),
        ["address", "listener", "client id", "principal", "in", "out", "age (s)", "in flight"],
        connections.map((c) =>
          el(
            "tr",
            { "data-client": c.clientId ?? "" },
            el("td", {}, c.address),
            el("td", {}, c.listener),
            el("td", {}, c.clientId ?? "–"),
            el("td", {}, c.principal ?? "–"),
            el("td", { class: "num" }, c.bytesIn),
            el("td", { class: "num" }, c.bytesOut),
            el("td", { class: "num" }, c.ageSeconds),
            el("td", { class: "num" }, c.requestsInFlight),
          ),
        ),
      );
    } catch (error) {
      $("connections").replaceChildren(el("tr", {}, el("td", { class: "error" }, error.message)));
    }
  }

  function every(ms, poll) {
    const run = () => poll().finally(() => setTimeout(run, ms));
    run();
  }

  every(TRAFFIC_POLL_MS, pollTraffic);
  every(STATE_POLL_MS, pollHealth);
  every(STATE_POLL_MS, pollTopics);
  every(STATE_POLL_MS, pollGroups);
  every(STATE_POLL_MS, pollConnections);
})();
