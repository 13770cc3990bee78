/* The structured change form (viz/change_form.py describes it). Plain script, no library:
   it edits one mapping (the definition) that the YAML view shows as text; on submit the
   mapping goes, as JSON (which is YAML), through the same POST /changes as the YAML view.
   Without script the page is the YAML textarea alone. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("form-config").textContent);
  var W = cfg.words;
  var data = cfg.data || {};
  var names = cfg.names || {};
  var errors = cfg.errors || {};
  var root = document.getElementById("structured");
  var yamlBox = document.getElementById("definition");
  var yamlPane = document.getElementById("yaml-pane");
  var yamlErr = document.getElementById("yaml-error");
  var modeInput = document.getElementById("mode");
  var csrfInput = document.querySelector("#propose input[name=csrf]");
  var mode = cfg.mode === "form" ? "form" : "yaml";

  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "text") { node.textContent = v; }
      else if (k === "class") { node.className = v; }
      else if (k === "value") { node.value = v; }
      else { node.setAttribute(k, v === true ? "" : v); }
    });
    (kids || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function empty(v) {
    return v === undefined || v === null || v === "" ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);
  }

  function getPath(path) {
    var cur = data;
    var keys = path.split(".");
    for (var i = 0; i < keys.length; i++) {
      if (cur === null || typeof cur !== "object") { return undefined; }
      cur = cur[keys[i]];
    }
    return cur;
  }

  function setPath(path, value) {
    var keys = path.split(".");
    var chain = [data];
    var cur = data;
    for (var i = 0; i < keys.length - 1; i++) {
      if (cur[keys[i]] === null || typeof cur[keys[i]] !== "object" || Array.isArray(cur[keys[i]])) {
        if (empty(value)) { return; }
        cur[keys[i]] = {};
      }
      cur = cur[keys[i]];
      chain.push(cur);
    }
    var last = keys[keys.length - 1];
    if (empty(value)) { delete cur[last]; } else { cur[last] = value; }
    for (var j = keys.length - 2; j >= 0; j--) {  // an emptied caliber.numerator goes too
      if (empty(chain[j + 1])) { delete chain[j][keys[j]]; }
    }
  }

  function errorsFor(path, box) {
    (errors[path] || []).forEach(function (m) {
      box.classList.add("has-err");
      box.appendChild(el("div", { class: "fielderr", role: "alert", text: m }));
    });
  }

  /* -- picker: search the catalog (GET /api/nodes), choose one node ------------------------- */
  function picker(kind, placeholder, onPick, testid) {
    var input = el("input", { type: "search", placeholder: placeholder, "aria-label": placeholder,
      autocomplete: "off", "data-kind": kind, "data-picker": testid });
    var list = el("ul", { class: "hidden", role: "listbox" });
    var box = el("div", { class: "picker" }, [input, list]);
    var timer = null;
    var seq = 0;
    function hide() { list.classList.add("hidden"); }
    function search() {
      var mine = ++seq;
      var url = "/api/nodes?limit=12&kinds=" + encodeURIComponent(kind) +
        "&q=" + encodeURIComponent(input.value.trim());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (res) {
          if (mine !== seq) { return; }
          list.textContent = "";
          (res.items || []).forEach(function (item) {
            var b = el("button", { type: "button", role: "option" },
              [el("span", { text: item.name }), el("code", { text: item.id })]);
            b.addEventListener("mousedown", function (e) { e.preventDefault(); });
            b.addEventListener("click", function () {
              names[item.ref] = item.name;
              input.value = "";
              hide();
              onPick(item);
            });
            list.appendChild(el("li", {}, [b]));
          });
          if (!list.children.length) { list.appendChild(el("li", { class: "muted", text: W.none_found })); }
          list.classList.remove("hidden");
        })
        .catch(function () { hide(); });
    }
    input.addEventListener("input", function () {  // stale answers are never offered
      seq++;
      hide();
      clearTimeout(timer);
      timer = setTimeout(search, 120);
    });
    input.addEventListener("focus", search);
    input.addEventListener("blur", function () { setTimeout(hide, 150); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { hide(); }
      if (e.key === "Enter") {
        e.preventDefault();
        var first = list.querySelector("button");
        if (first && !list.classList.contains("hidden")) { first.click(); }
      }
    });
    return box;
  }

  function chip(kind, id) {
    var name = names[kind + ":" + id];
    return el("span", { class: "chip" + (name === undefined ? " unknown" : ""),
      title: name === undefined ? W.unknown : kind + ":" + id },
      [el("span", { text: name === undefined ? id : name }), el("code", { text: id })]);
  }

  /* -- one widget per field kind --------------------------------------------------------- */
  function scalar(f, value, onChange, label) {
    var input;
    if (f.widget === "textarea") {
      input = el("textarea", { "aria-label": label });
      input.value = value === undefined || value === null ? "" : String(value);
      input.rows = Math.min(16, Math.max(2, input.value.split("\n").length + 1));
      if (f.mono) { input.classList.add("mono"); }
    } else if (f.widget === "select") {
      input = el("select", { "aria-label": label }, [el("option", { value: "", text: "—" })]);
      var seen = false;
      f.options.forEach(function (o) {
        input.appendChild(el("option", { value: o[0], text: o[1] }));
        if (o[0] === value) { seen = true; }
      });
      if (!empty(value) && !seen) { input.appendChild(el("option", { value: String(value), text: String(value) })); }
      input.value = empty(value) ? "" : String(value);
    } else {
      input = el("input", { type: f.widget === "number" ? "number" : "text", step: "any",
        "aria-label": label });
      input.value = value === undefined || value === null ? "" : String(value);
    }
    input.addEventListener(f.widget === "select" ? "change" : "input", function () {
      var v = input.value;
      if (f.widget === "number" && v !== "" && !isNaN(Number(v))) { v = Number(v); }
      if (typeof v === "string" && f.widget !== "textarea" && f.widget !== "select") { v = v.trim(); }
      onChange(v);
    });
    return input;
  }

  function refWidget(f, slot) {
    slot.textContent = "";
    var id = getPath(f.path);
    var row = el("div", { class: "row" });
    if (!empty(id)) {
      var clear = el("button", { type: "button", class: "small rm", text: W.clear,
        "aria-label": W.clear + " " + f.label });
      clear.addEventListener("click", function () { setPath(f.path, null); refWidget(f, slot); });
      row.appendChild(chip(f.kind, id));
      row.appendChild(clear);
    }
    row.appendChild(picker(f.kind, W.replace, function (item) {
      setPath(f.path, item.id);
      refWidget(f, slot);
    }, f.path));
    slot.appendChild(row);
  }

  function refsWidget(f, slot) {
    slot.textContent = "";
    var items = (getPath(f.path) || []).slice();
    items.forEach(function (id, i) {
      var rm = el("button", { type: "button", class: "small rm", text: W.remove,
        "aria-label": W.remove + " " + id });
      rm.addEventListener("click", function () {
        items.splice(i, 1);
        setPath(f.path, items);
        refsWidget(f, slot);
      });
      slot.appendChild(el("div", { class: "row", "data-row": String(i) }, [chip(f.kind, id), rm]));
    });
    slot.appendChild(picker(f.kind, W.search, function (item) {
      if (items.indexOf(item.id) < 0) { items.push(item.id); }
      setPath(f.path, items);
      refsWidget(f, slot);
    }, f.path));
  }

  function listWidget(f, slot, rows) {
    slot.textContent = "";
    rows = rows || (getPath(f.path) || []).map(function (x) { return typeof x === "string" ? x : JSON.stringify(x); });
    function store() {
      setPath(f.path, rows.filter(function (x) { return x.trim() !== ""; }).map(function (x) { return x.trim(); }));
    }
    rows.forEach(function (text, i) {
      var input = el("input", { type: "text", "aria-label": f.label + " " + (i + 1) });
      input.value = text;
      input.addEventListener("input", function () { rows[i] = input.value; store(); });
      var rm = el("button", { type: "button", class: "small rm", text: W.remove,
        "aria-label": W.remove + " " + f.label + " " + (i + 1) });
      rm.addEventListener("click", function () { rows.splice(i, 1); store(); listWidget(f, slot, rows); });
      slot.appendChild(el("div", { class: "row", "data-row": String(i) }, [input, rm]));
    });
    var add = el("button", { type: "button", class: "small add", text: W.add,
      "aria-label": W.add + ": " + f.label });
    add.addEventListener("click", function () {
      rows.push("");
      listWidget(f, slot, rows);
      var inputs = slot.querySelectorAll("input");
      inputs[inputs.length - 1].focus();
    });
    slot.appendChild(add);
  }

  function rowsWidget(f, slot, rows) {
    slot.textContent = "";
    rows = rows || (getPath(f.path) || []).map(function (r) {
      return (r && typeof r === "object") ? Object.assign({}, r) : {};
    });
    function store() {
      setPath(f.path, rows.map(function (r) {
        var out = {};
        Object.keys(r).forEach(function (k) { if (!empty(r[k])) { out[k] = r[k]; } });
        return out;
      }).filter(function (r) { return !empty(r); }));
    }
    if (rows.length) {
      slot.appendChild(el("div", { class: "cols-head" }, f.columns.map(function (c) {
        return el("span", { text: c.label, class: "c-" + c.widget });
      })));
    }
    rows.forEach(function (r, i) {
      var cells = f.columns.map(function (c) {
        if (c.widget === "ref") {
          var cell = el("div", { class: "row c-ref" });
          var draw = function () {
            cell.textContent = "";
            if (!empty(r[c.key])) { cell.appendChild(chip(c.kind, r[c.key])); }
            cell.appendChild(picker(c.kind, W.replace, function (item) {
              r[c.key] = item.id; store(); draw();
            }, f.path + "." + c.key));
          };
          draw();
          return cell;
        }
        var input = scalar(c, r[c.key], function (v) { r[c.key] = v; store(); }, c.label + " " + (i + 1));
        input.classList.add("c-" + c.widget);
        return input;
      });
      var rm = el("button", { type: "button", class: "small rm", text: W.remove,
        "aria-label": W.remove + " " + f.label + " " + (i + 1) });
      rm.addEventListener("click", function () { rows.splice(i, 1); store(); rowsWidget(f, slot, rows); });
      slot.appendChild(el("div", { class: "row cols", "data-row": String(i) }, cells.concat([rm])));
    });
    var add = el("button", { type: "button", class: "small add", text: W.add,
      "aria-label": W.add + ": " + f.label });
    add.addEventListener("click", function () { rows.push({}); rowsWidget(f, slot, rows); });
    slot.appendChild(add);
  }

  function formulaWidget(f, slot) {
    var input = scalar({ widget: "text" }, getPath(f.path), function (v) { setPath(f.path, v); }, f.label);
    input.style.fontFamily = "ui-monospace, monospace";
    slot.appendChild(input);
    slot.appendChild(el("div", { class: "row" }, [picker(f.kind, W.insert, function (item) {
      var at = input.selectionStart === null ? input.value.length : input.selectionStart;
      var before = input.value.slice(0, at);
      var after = input.value.slice(at);
      var pad = before && !/\s$/.test(before) ? " " : "";
      input.value = before + pad + item.id + after;
      setPath(f.path, input.value.trim());
      input.focus();
    }, f.path)]));
  }

  function field(f) {
    var label = el("div", { class: "lab" }, [el("span", { text: f.label }), el("code", { text: f.path })]);
    var slot = el("div", { class: "slot" });
    var box = el("div", { class: "fld", "data-path": f.path }, [label, slot]);
    if (f.widget === "ref") { refWidget(f, slot); }
    else if (f.widget === "refs") { refsWidget(f, slot); }
    else if (f.widget === "list") { listWidget(f, slot); }
    else if (f.widget === "rows") { rowsWidget(f, slot); }
    else if (f.widget === "formula") { formulaWidget(f, slot); }
    else { slot.appendChild(scalar(f, getPath(f.path), function (v) { setPath(f.path, v); }, f.label)); }
    errorsFor(f.path, box);
    return box;
  }

  function render() {
    root.textContent = "";
    var covered = {};
    cfg.sections.forEach(function (s) {
      var set = el("fieldset", { class: "sec" }, [el("legend", { text: s.title })]);
      s.fields.forEach(function (f) {
        covered[f.path.split(".")[0]] = true;
        set.appendChild(field(f));
      });
      root.appendChild(set);
    });
    var kept = Object.keys(data).filter(function (k) { return !covered[k]; });
    if (kept.length) {
      root.appendChild(el("p", { class: "muted", id: "kept", text: W.kept + " " + kept.join(", ") }));
    }
  }

  /* -- the two views, kept in sync through the server's YAML (POST /changes/form/yaml) ------ */
  function convert(body) {
    return fetch("/changes/form/yaml", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfInput ? csrfInput.value : "" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (body) {
        if (body && body.error && typeof body.error === "object") {  // 401/403: say why
          return { error: body.error.message || String(r.status) };
        }
        return body;
      });
    });
  }

  function show(next) {
    mode = next;
    document.getElementById("view-form").setAttribute("aria-pressed", String(next === "form"));
    document.getElementById("view-yaml").setAttribute("aria-pressed", String(next === "yaml"));
    root.classList.toggle("hidden", next !== "form");
    yamlPane.classList.toggle("hidden", next !== "yaml");
    modeInput.value = next;
  }

  document.getElementById("view-yaml").addEventListener("click", function () {
    if (mode === "yaml") { return; }
    convert({ data: data }).then(function (res) {
      if (res.error) {
        yamlErr.textContent = res.error;
        yamlErr.classList.remove("hidden");
        return;
      }
      yamlBox.value = res.text;
      yamlErr.classList.add("hidden");
      show("yaml");
    });
  });
  document.getElementById("view-form").addEventListener("click", function () {
    if (mode === "form") { return; }
    convert({ text: yamlBox.value }).then(function (res) {
      if (res.error) {
        yamlErr.textContent = W.yaml_error + " " + res.error;
        yamlErr.classList.remove("hidden");
        return;
      }
      yamlErr.classList.add("hidden");
      data = res.data;
      Object.assign(names, res.names || {});
      errors = {};
      render();
      show("form");
    });
  });
  document.getElementById("propose").addEventListener("submit", function () {
    if (mode === "form") { yamlBox.value = JSON.stringify(data); }
    modeInput.value = mode;
  });

  document.getElementById("views").classList.remove("hidden");
  render();
  show(mode);
})();
