package eml

import (
	"strings"

	"golang.org/x/net/html"
)

// htmlToText derives plain text from an HTML body with the HTML5
// tokenizer of golang.org/x/net/html: it drops tags, comments and the
// content of head, script, style and title (raw text: a "<" inside a
// script starts no tag), turns block starts and ends and <br> into line
// breaks and table cells into tabs, decodes entities (the tokenizer does)
// and collapses runs of white space. It is a summary for the description
// field, not a renderer.
func htmlToText(s string) string {
	var b strings.Builder
	skip := "" // name of the element whose content is being dropped
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken: // io.EOF: a strings.Reader has no other error
			return collapse(b.String())
		case html.TextToken:
			if skip == "" {
				b.WriteString(flatten(string(z.Text())))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			nameBytes, _ := z.TagName()
			name := string(nameBytes)
			if skip != "" {
				if tt == html.EndTagToken && name == skip {
					skip = ""
				}
				continue
			}
			switch name {
			case "head", "script", "style", "title":
				if tt == html.StartTagToken {
					skip = name
				}
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr", "ul", "ol":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte('\t')
			}
		}
	}
}

// collapse collapses white space within lines and runs of blank lines,
// with no-break spaces taken as spaces.
func collapse(text string) string {
	text = strings.ReplaceAll(text, "\u00a0", " ")
	// Collapse white space within lines and runs of blank lines.
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	var out []string
	blank := 0
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// flatten turns source line breaks into spaces: in HTML they are white
// space, and only tags break lines.
func flatten(s string) string { return lineBreaksToSpaces.Replace(s) }

// lineBreaksToSpaces is built once (a Replacer builds its tables on first
// use and keeps them).
var lineBreaksToSpaces = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
