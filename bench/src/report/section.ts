/** A section's markdown and what it says against Berth. */
export interface Section {
  markdown: string;
  findings: string[];
}
