package eml

import (
	"html"
	"strings"
)

// htmlToText derives plain text from an HTML body: it drops tags, comments
// and the content of head, script, style and title, turns block ends and
// <br> into line breaks, decodes entities and collapses runs of white space.
// It is a summary for the description field, not a renderer.
func htmlToText(s string) string {
	var b strings.Builder
	skip := "" // name of the element whose content is being dropped
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			if skip == "" {
				b.WriteString(flatten(s))
			}
			break
		}
		if skip == "" {
			b.WriteString(flatten(s[:i]))
		}
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				break
			}
			s = s[4+end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			break
		}
		tag := s[1:end]
		s = s[end+1:]
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(strings.TrimLeft(tag, "/!?"))
		if j := strings.IndexAny(name, " \t\r\n/"); j >= 0 {
			name = name[:j]
		}
		if skip != "" {
			if closing && name == skip {
				skip = ""
			}
			continue
		}
		switch name {
		case "head", "script", "style", "title":
			if !closing && !strings.HasSuffix(tag, "/") {
				skip = name
			}
		case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr", "ul", "ol":
			b.WriteByte('\n')
		case "td", "th":
			b.WriteByte('\t')
		}
	}
	text := html.UnescapeString(b.String())
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
func flatten(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
