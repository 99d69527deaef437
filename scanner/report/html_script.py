"""The HTML report's one small script: sort and filter the long tables, nothing else.

It loads nothing and sends nothing; the Content-Security-Policy allows exactly this script (by
its SHA-256) and no other, so a device string that slipped an escape still could not run. The
report reads in full without it: rows are already in a sensible order (IP addresses numerically).
IPv4 addresses sort numerically; a cell may carry ``data-sort`` to sort by another key.
"""

from __future__ import annotations

import base64
import hashlib

SCRIPT = r"""
(function () {
  function key(cell) {
    var k = cell.getAttribute('data-sort');
    if (k !== null) { return k; }
    var text = cell.textContent.trim().toLowerCase();
    var ip = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/.exec(text);  /* IPv4 sorts numerically */
    if (ip) { return ip.slice(1, 5).map(function (o) { return ('00' + o).slice(-3); }).join('.') + text.slice(ip[0].length); }
    return text;
  }
  function sortBy(table, column, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.getAttribute('aria-sort') !== 'ascending';
    rows.sort(function (a, b) {
      var x = key(a.cells[column] || a), y = key(b.cells[column] || b);
      var n = parseFloat(x), m = parseFloat(y);
      var c = (!isNaN(n) && !isNaN(m) && String(n) === x && String(m) === y) ? n - m : (x < y ? -1 : x > y ? 1 : 0);
      return up ? c : -c;
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.title = 'sort';
      th.addEventListener('click', function () { sortBy(table, i, th); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sortBy(table, i, th); } });
    });
    var box = document.createElement('input');
    box.type = 'search';
    box.className = 'filter';
    box.placeholder = 'Filter these ' + table.tBodies[0].rows.length + ' rows';
    box.setAttribute('aria-label', 'filter the table');
    box.addEventListener('input', function () {
      var q = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = q !== '' && r.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
    table.parentNode.insertBefore(box, table);
  });
})();
"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
