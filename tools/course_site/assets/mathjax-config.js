/* MathJax 2 (from the jupyter-server-mathjax package, served by the site): nbconvert's settings, with the
   STIX web fonts that package ships, so that no font is looked for elsewhere. Every page
   that loads this sits at the site's root, which the font's address below is relative to. */
window.MathJax = {
  tex2jax: { inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
             processEscapes: true, processEnvironments: true },
  TeX: { equationNumbers: { autoNumber: "AMS", useLabelIds: true } },
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
                linebreaks: { automatic: true },
                // its blank measuring font from the site (build.py writes it), not from about:blank
                styles: { "@font-face": { "font-family": "MathJax_Blank", src: "url('assets/mathjax-blank.woff')" } } },
  MathMenu: { showRenderer: false },
  displayAlign: "center",
  messageStyle: "none"
};
