/* The header's ".pdf" item downloads the whole book's PDF when the build has one (book/_ext/pdf_download.py
   puts <meta name="book-pdf"> into every page then); otherwise it stays the theme's "print this page". */
document.addEventListener("DOMContentLoaded", () => {
  const meta = document.querySelector('meta[name="book-pdf"]');
  if (!meta) return;
  document.querySelectorAll(".btn-download-pdf-button").forEach((button) => {
    const link = document.createElement("a");
    link.href = meta.content;
    link.className = button.className;
    link.innerHTML = button.innerHTML;
    link.title = "下载全书 PDF";
    link.setAttribute("download", "");
    const label = link.querySelector(".btn__text-container");
    if (label) label.textContent = "全书 PDF";
    button.replaceWith(link);
  });
});
