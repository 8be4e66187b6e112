package wintz

// legacy maps Windows time zone ids that Microsoft has retired or renamed,
// and that older Outlook and Exchange versions still write, to the id that
// replaced them (the ids are not in CLDR's current table).
var legacy = map[string]string{
	"Mid-Atlantic Standard Time": "UTC-02",
	"Kamchatka Standard Time":    "Russia Time Zone 11",
	"Armenian Standard Time":     "Caucasus Standard Time",
	"Mexico Standard Time":       "Central Standard Time (Mexico)",
	"Mexico Standard Time 2":     "Mountain Standard Time (Mexico)",
}
