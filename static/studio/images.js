// Logged images with a step slider: a run's Images tab (one slider per key) and the comparison
// (one slider per key, shared by the runs). Every step arrives with the page (#image-series or
// #compare-images); the thumbnails arrive in a few bundles once a card is near the viewport.
// Moving a slider shows the step's thumbnail at once, from memory, and the full image only once
// the slider rests, so stepping through a thousand steps costs no request per step.
(function () {
  "use strict";

  const REST_MS = 250;
  const thumbnails = new Map(); // base + name -> object URL
  const bundles = new Map(); // bundle URL -> Promise

  // The thumbnail's name; 1 stands for the client's usual one, derived from the image's name.
  function thumbName(series, index) {
    const entry = series.thumbs[index];
    if (entry !== 1) return entry;
    const file = series.files[index];
    return file.slice(0, -4) + (file.includes("+step+") ? "+" : "%") + "compressed.webp";
  }

  function fileUrl(series, name) {
    return series.base + "file?name=" + encodeURIComponent(name);
  }

  function fetchBundle(series, bundle) {
    const url = series.base + "thumbnails?" + bundle.query;
    if (!bundles.has(url)) {
      const done = fetch(url, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.arrayBuffer() : Promise.reject(response.status)))
        .then((buffer) => {
          const length = new DataView(buffer).getUint32(0);
          const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
          let offset = 4 + length;
          for (const [name, size] of header) {
            const type = name.endsWith(".png") ? "image/png" : "image/webp";
            const blob = new Blob([new Uint8Array(buffer, offset, size)], { type });
            thumbnails.set(series.base + name, URL.createObjectURL(blob));
            offset += size;
          }
        })
        .catch(() => {}); // a thumbnail that did not come is shown from its full image
      bundles.set(url, done);
    }
    return bundles.get(url);
  }

  // Fetches a series' bundles one after the other, the one holding `index` first.
  function fetchAll(series, index) {
    const order = series.bundles.slice();
    order.sort((a, b) => holds(b, index) - holds(a, index));
    return order.reduce((chain, bundle) => chain.then(() => fetchBundle(series, bundle)), Promise.resolve());
  }

  function holds(bundle, index) {
    return index >= bundle.from && index < bundle.from + bundle.count ? 1 : 0;
  }

  function bundleOf(series, index) {
    return series.bundles.find((bundle) => holds(bundle, index));
  }

  // The largest index whose step is at most `step`, or -1.
  function atOrBefore(steps, step) {
    let low = 0, high = steps.length - 1, found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (steps[middle] <= step) { found = middle; low = middle + 1; } else { high = middle - 1; }
    }
    return found;
  }

  function stamp(ms) {
    const moment = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ` +
      `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`;
  }

  // One image frame showing one series at an index; `show` is cheap, the full image waits for rest.
  function Panel(frame, series) {
    const img = frame.querySelector(".image-view");
    const note = frame.querySelector("[data-field=note]");
    let current = series.steps.length - 1, timer = null;
    img.addEventListener("load", () => {
      img.classList.toggle("pixelated", img.naturalWidth > 0 && img.naturalWidth < 160);
    });

    function full(index) {
      const url = fileUrl(series, series.files[index]);
      if (img.dataset.full === url) return;
      const probe = new Image();
      probe.onload = () => {
        if (current !== index) return;
        img.src = url;
        img.dataset.full = url;
      };
      probe.src = url;
    }

    function show(index) {
      current = index;
      clearTimeout(timer);
      note.hidden = index >= 0;
      img.hidden = index < 0;
      if (index < 0) { note.textContent = "not logged yet"; return; }
      const name = thumbName(series, index);
      const thumbnail = thumbnails.get(series.base + name);
      if (thumbnail) {
        img.src = thumbnail;
        delete img.dataset.full;
      } else if (name && bundleOf(series, index)) {
        fetchBundle(series, bundleOf(series, index)).then(() => {
          if (current === index && thumbnails.has(series.base + name)) show(index);
        });
      }
      timer = setTimeout(() => full(index), REST_MS);
    }

    return { series, show, preload: () => fetchAll(series, current) };
  }

  // Slider, buttons and arrow keys of a card; `render(position)` draws the card at that position
  // and returns the step shown, which the slider announces.
  function wire(card, render) {
    const slider = card.querySelector(".image-slider");
    const draw = (position) => slider.setAttribute("aria-valuetext", `step ${render(position)}`);
    const move = (by) => {
      const next = Math.min(Number(slider.max), Math.max(0, Number(slider.value) + by));
      if (next !== Number(slider.value)) { slider.value = next; draw(next); }
    };
    slider.addEventListener("input", () => draw(Number(slider.value)));
    card.querySelectorAll("[data-move]").forEach((button) => {
      button.addEventListener("click", () => move(Number(button.dataset.move)));
    });
    card.addEventListener("keydown", (event) => {
      if (event.target === slider || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        event.preventDefault();
        move(event.key === "ArrowLeft" ? -1 : 1);
      }
    });
    card.querySelector(".image-frame").addEventListener("click", () => slider.focus());
  }

  const nearby = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      entries.forEach((entry) => {
        if (entry.isIntersecting) { nearby.unobserve(entry.target); entry.target.preload(); }
      });
    }, { rootMargin: "400px" })
    : null;

  function whenNear(card, panels) {
    card.preload = () => panels.forEach((panel) => panel.preload());
    if (nearby) nearby.observe(card); else card.preload();
  }

  function runPage() {
    const data = document.getElementById("image-series");
    if (!data) return;
    const all = JSON.parse(data.textContent);
    document.querySelectorAll("[data-image-card]").forEach((card) => {
      const series = all[Number(card.dataset.series)];
      const panel = Panel(card.querySelector(".image-frame"), series);
      const step = card.querySelector("[data-field=step]");
      const time = card.querySelector("[data-field=time]");
      wire(card, (index) => {
        panel.show(index);
        step.textContent = series.steps[index];
        time.textContent = stamp(series.times[index]);
        time.dateTime = new Date(series.times[index]).toISOString();
        return series.steps[index];
      });
      whenNear(card, [panel]);
    });
  }

  function comparePage() {
    const data = document.getElementById("compare-images");
    if (!data) return;
    const all = JSON.parse(data.textContent);
    document.querySelectorAll("[data-image-compare]").forEach((card) => {
      const entry = all[Number(card.dataset.imageCompare)];
      const panels = entry.runs.map((series, index) => {
        const figure = card.querySelector(`[data-panel="${index}"]`);
        return { panel: Panel(figure.querySelector(".image-frame"), series), at: figure.querySelector("[data-field=at]") };
      });
      const step = card.querySelector("[data-field=step]");
      wire(card, (position) => {
        const wanted = entry.steps[position];
        step.textContent = wanted;
        for (const { panel, at } of panels) {
          const index = atOrBefore(panel.series.steps, wanted);
          panel.show(index);
          const shown = index < 0 ? null : panel.series.steps[index];
          at.textContent = shown === null ? "no step yet" : shown === wanted ? `step ${shown}` : `step ${shown} (nearest earlier)`;
          at.classList.toggle("earlier", shown !== wanted);
        }
        return wanted;
      });
      whenNear(card, panels.map(({ panel }) => panel));
    });
  }

  runPage();
  comparePage();
  // For tests and the curious: how many thumbnails are in memory.
  window.studioImages = { get thumbnails() { return thumbnails.size; } };
})();
