// The settings drawer: developer instructions, built-in tools, the builder's function tools
// (JSON, validated as it is typed) and sampling. Kept in localStorage between visits; sent
// as turn.create's `settings`.

const STORAGE_KEY = "gptoss.settings.v1";
const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER_FIELDS = {
  temperature: { min: 0, max: 2, integer: false },
  top_p: { min: 0.01, max: 1, integer: false },
  max_output_tokens: { min: 1, max: 32768, integer: true },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true, optional: true },
};

export class SettingsError extends Error {}

// The function tools editor's text -> a list of {name, description, parameters}, or a
// SettingsError saying what is wrong and where.
export function parseTools(text) {
  if (!text.trim()) return [];
  let tools;
  try {
    tools = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`Function tools: not valid JSON (${error.message})`);
  }
  if (!Array.isArray(tools)) tools = [tools];
  const seen = new Set();
  return tools.map((tool, i) => {
    const where = `Function tool ${i + 1}`;
    if (typeof tool !== "object" || tool === null || Array.isArray(tool)) {
      throw new SettingsError(`${where}: must be an object with a "name"`);
    }
    if (typeof tool.name !== "string" || !TOOL_NAME.test(tool.name)) {
      throw new SettingsError(`${where}: "name" must be letters, digits and _, not starting with a digit`);
    }
    if (seen.has(tool.name)) throw new SettingsError(`${where}: "${tool.name}" is declared twice`);
    seen.add(tool.name);
    if (tool.description !== undefined && typeof tool.description !== "string") {
      throw new SettingsError(`${where} (${tool.name}): "description" must be a string`);
    }
    const params = tool.parameters;
    if (params !== undefined && params !== null) {
      if (typeof params !== "object" || Array.isArray(params) || (params.type ?? "object") !== "object") {
        throw new SettingsError(`${where} (${tool.name}): "parameters" must be a JSON schema of type "object"`);
      }
      if (params.properties !== undefined && (typeof params.properties !== "object" || Array.isArray(params.properties))) {
        throw new SettingsError(`${where} (${tool.name}): "properties" must be an object`);
      }
      for (const name of params.required ?? []) {
        if (!(name in (params.properties ?? {}))) {
          throw new SettingsError(`${where} (${tool.name}): required property "${name}" is not declared`);
        }
      }
    }
    const out = { name: tool.name, description: tool.description ?? "" };
    if (params) out.parameters = params;
    return out;
  });
}

export class SettingsDrawer {
  constructor(drawer, scrim, { onChange }) {
    this.drawer = drawer;
    this.scrim = scrim;
    this.form = drawer.querySelector("#settings-form");
    this.errorNode = drawer.querySelector("#settings-error");
    this.onChange = onChange;
    this.defaults = this.snapshot();
    this.restore();
    this.form.addEventListener("input", () => this.changed());
    this.form.addEventListener("change", () => this.changed());
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.changed();
  }

  // While the drawer is open the page behind it is inert: the keyboard and screen readers stay
  // in the drawer, as the eye does. Closing it gives focus back to what opened it.
  open() {
    if (!this.drawer.hidden) return;
    this.opener = document.activeElement;
    this.drawer.hidden = false;
    this.scrim.hidden = false;
    for (const node of this.behind()) node.inert = true;
    requestAnimationFrame(() => this.drawer.classList.add("open"));
    this.form.elements.developer_instructions.focus();
  }

  close() {
    if (this.drawer.hidden) return;
    this.drawer.classList.remove("open");
    this.drawer.hidden = true;
    this.scrim.hidden = true;
    for (const node of this.behind()) node.inert = false;
    this.opener?.focus();
  }

  behind() {
    return [...this.drawer.parentElement.children].filter((node) => node !== this.drawer && node !== this.scrim);
  }

  reset() {
    this.apply(this.defaults);
    this.changed();
  }

  // The raw form values (strings and checkbox lists), for storage and for "is it default?".
  snapshot() {
    const f = this.form.elements;
    return {
      developer_instructions: f.developer_instructions.value,
      builtin_tools: [...this.form.querySelectorAll("input[name=builtin_tools]:checked")].map((i) => i.value),
      tools: f.tools.value,
      temperature: f.temperature.value,
      top_p: f.top_p.value,
      max_output_tokens: f.max_output_tokens.value,
      seed: f.seed.value,
    };
  }

  apply(values) {
    const f = this.form.elements;
    for (const key of ["developer_instructions", "tools", "temperature", "top_p", "max_output_tokens", "seed"]) {
      if (typeof values[key] === "string") f[key].value = values[key];
    }
    if (Array.isArray(values.builtin_tools)) {
      for (const box of this.form.querySelectorAll("input[name=builtin_tools]")) {
        box.checked = values.builtin_tools.includes(box.value);
      }
    }
  }

  restore() {
    try {
      const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null");
      if (stored) this.apply(stored);
    } catch {
      localStorage.removeItem(STORAGE_KEY); // unreadable: start from the defaults
    }
  }

  changed() {
    const snap = this.snapshot();
    localStorage.setItem(STORAGE_KEY, JSON.stringify(snap));
    let problem = null;
    try {
      this.value();
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      problem = error.message;
    }
    this.errorNode.hidden = !problem;
    this.errorNode.textContent = problem ?? "";
    this.form.elements.tools.classList.toggle("invalid", Boolean(problem?.startsWith("Function tool")));
    const changes = Object.keys(snap).filter((k) => JSON.stringify(snap[k]) !== JSON.stringify(this.defaults[k])).length;
    this.onChange({ changes, problem });
  }

  // turn.create's `settings`, or a SettingsError.
  value() {
    const snap = this.snapshot();
    const settings = {
      developer_instructions: snap.developer_instructions.trim(),
      builtin_tools: snap.builtin_tools,
      tools: parseTools(snap.tools),
    };
    for (const [key, rule] of Object.entries(NUMBER_FIELDS)) {
      const raw = snap[key].trim();
      if (raw === "" && rule.optional) { settings[key] = null; continue; }
      const value = Number(raw);
      if (raw === "" || !Number.isFinite(value) || value < rule.min || value > rule.max || (rule.integer && !Number.isInteger(value))) {
        throw new SettingsError(`${key.replace(/_/g, " ")}: use ${rule.integer ? "a whole number" : "a number"} from ${rule.min} to ${rule.max}`);
      }
      settings[key] = value;
    }
    return settings;
  }
}
