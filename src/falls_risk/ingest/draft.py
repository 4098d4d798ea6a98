"""Draft a mapping from an extract's profile: guess each file's source and each column's contract
name, the date formats and the value maps, and write them as YAML with a TODO wherever a person
must decide. The draft is a start, never a finished mapping: ``falls-risk ingest`` still checks it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import json
import re
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from falls_risk.contract import SOURCES, Kind
from falls_risk.ingest.inspect import ExtractProfile, FileProfile
from falls_risk.ingest.normalise import normalise_code

MATCH_CUTOFF = 0.82
# Columns of these kinds (or direct identifiers) never have their values printed.
HIDDEN_KINDS = (Kind.NAME, Kind.NHS_NUMBER, Kind.POSTCODE, Kind.ID, Kind.TEXT, Kind.DATE)
TODO = "TODO"
ISO_DATE = "%Y-%m-%d"
ISO_DATETIMES = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")

# Words in a file's name that say which source it holds (the NHS Wales and council datasets).
FILE_HINTS: tuple[tuple[str, str], ...] = (
    ("pedw", "inpatient_spells"), ("apc", "inpatient_spells"), ("spell", "inpatient_spells"),
    ("inpatient", "inpatient_spells"), ("edds", "ed_attendances"), ("attend", "ed_attendances"),
    ("wast", "ambulance_calls"), ("ambulance", "ambulance_calls"), ("wlgp", "gp_events"),
    ("gp_event", "gp_events"), ("presc", "prescriptions"), ("wccis", "social_care"),
    ("social", "social_care"), ("niche", "police_incidents"), ("police", "police_incidents"),
    ("dfg", "housing_adaptations"), ("adapt", "housing_adaptations"), ("housing", "housing_adaptations"),
    ("wimd", "deprivation"), ("depriv", "deprivation"), ("wdsd", "population"), ("population", "population"),
    ("spine", "population"),
)
# Header spellings agencies use for contract columns (compared after folding to snake_case).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "nhs_number": ("nhs_no", "nhs_num", "nhsnumber", "nhs", "nhs_number_value", "patient_nhs_number"),
    "forename": ("first_name", "firstname", "given_name", "forenames", "patient_forename"),
    "surname": ("last_name", "lastname", "family_name", "patient_surname"),
    "date_of_birth": ("dob", "birth_date", "birthdate", "patient_dob", "date_birth"),
    "sex": ("gender", "gndr", "sex_code", "gender_code", "person_stated_gender"),
    "postcode": ("post_code", "pcode", "patient_postcode", "postcode_of_usual_address"),
    "address_line": ("address", "address_1", "address1", "street", "address_line_1"),
    "lsoa_code": ("lsoa", "lsoa11", "lsoa_2011", "lsoa11cd", "lsoa_cd"),
    "local_authority": ("la", "local_authority_name", "council", "la_name"),
    "registration_date": ("reg_date", "start_date_of_registration", "registered_date"),
    "deregistration_date": ("dereg_date", "end_date_of_registration", "deregistered_date"),
    "date_of_death": ("dod", "death_date", "date_death"),
    "wimd_rank": ("wimd", "wimd_2019_rank", "overall_rank", "rank"),
    "spell_id": ("spell_no", "spell_number", "prov_spell_num", "provider_spell_number"),
    "admission_date": ("admit_date", "adm_date", "admidate", "spell_start_date", "admit_dt"),
    "discharge_date": ("disch_date", "disdate", "dis_date", "spell_end_date", "disch_dt"),
    "admission_method": ("admimeth", "adm_method", "admit_method", "admis_mthd", "adm_meth", "admission_mthd"),
    "diagnoses": ("diag", "diagnosis", "diag_codes", "icd10", "icd10_codes", "diag_4_concat"),
    "attendance_id": ("attendance_no", "attendance_number", "att_id", "ed_attendance_id", "attendance_identifier"),
    "arrival_time": ("arrival_datetime", "arrival_date_time", "arrival_dt", "arr_time"),
    "arrival_mode": ("mode_of_arrival", "arrival_mode_code", "arr_mode"),
    "presenting_complaint": ("chief_complaint_ed", "presenting_complaint_code", "complaint"),
    "disposal": ("discharge_destination", "attendance_disposal", "disposal_code", "outcome"),
    "event_date": ("date", "read_date", "event_dt"),
    "snomed_code": ("snomed", "concept_id", "snomed_ct", "code"),
    "issue_date": ("prescribed_date", "issue_dt", "date_issued"),
    "bnf_code": ("bnf", "bnf_code_value"),
    "drug_name": ("drug", "medication", "item_description"),
    "record_id": ("episode_ref", "episode_id", "record_ref"),
    "client_id": ("client_ref", "person_id", "client_number"),
    "service_type": ("service", "service_name", "service_description"),
    "start_date": ("service_start", "episode_start", "start"),
    "end_date": ("service_end", "episode_end", "end"),
    "weekly_hours": ("hours_per_week", "hours", "weekly_hrs"),
    "incident_id": ("incident_ref", "occurrence_id", "occurrence_ref", "incident_no"),
    "incident_date": ("occurrence_date", "date_of_incident", "incident_dt"),
    "person_role": ("role", "involvement", "person_involvement"),
    "incident_type": ("occurrence_type", "incident_category", "type"),
    "call_id": ("incident_number", "incident_no", "call_ref", "call_number", "cad_number"),
    "call_time": ("call_date_time", "call_datetime", "time_of_call", "call_dt"),
    "chief_complaint": ("complaint", "chief_complaint_code", "mpds_chief_complaint"),
    "conveyed": ("conveyed_to_hospital", "conveyance", "conveyed_flag", "transported"),
    "application_id": ("application_ref", "application_no", "dfg_ref", "case_ref"),
    "adaptation_type": ("adaptation", "works_type", "adaptation_description"),
    "application_date": ("date_received", "applied_date", "application_received"),
    "completed_date": ("completion_date", "date_completed", "works_completed"),
}
SEX_VALUES = {"1": "M", "2": "F", "9": "U", "0": "U", "m": "M", "f": "F", "u": "U", "male": "M",
              "female": "F", "unknown": "U", "not_known": "U", "not_specified": "U", "i": "U", "x": "U"}
BOOL_VALUES = {"y": "true", "yes": "true", "1": "true", "true": "true", "t": "true",
               "n": "false", "no": "false", "0": "false", "false": "false", "f": "false"}


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")


def _bare(key: str) -> str:
    """Without the words exports add around a field name: ``patient_``, ``res_``, ``_cd``, ``_code``."""
    key = re.sub(r"^(patient|pat|res|client|person)_", "", key)
    return re.sub(r"_(cd|code|flag|value)$", "", key)


def match_score(header: str, column: str) -> float:
    key = snake(header)
    names = (column, *SYNONYMS.get(column, ()))
    if key in names or _bare(key) in names:
        return 1.0
    return max(difflib.SequenceMatcher(None, k, n).ratio() for n in names for k in {key, _bare(key)})


@dataclass
class SourceDraft:
    source: str
    files: list[FileProfile]
    renames: dict[str, str] = field(default_factory=dict)  # export column -> contract column
    combine: dict[str, tuple[str, str]] = field(default_factory=dict)
    date_formats: dict[str, list[str]] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    missing_required: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def contract_of(self) -> dict[str, str]:
        return self.renames


@dataclass
class Draft:
    profile: ExtractProfile
    sources: dict[str, SourceDraft]
    unmatched: list[str]
    yaml: str = ""


def guess_source(file: FileProfile) -> str | None:
    name = snake(file.name)
    for hint, source in FILE_HINTS:
        if hint in name:
            return source
    best, best_share = None, 0.0
    for source in SOURCES.values():
        required = source.required_columns
        found = sum(any(match_score(h, c) >= MATCH_CUTOFF for h in file.header) for c in required)
        if found / len(required) > best_share:
            best, best_share = source.name, found / len(required)
    return best if best_share >= 0.5 else None


def _assign(headers: list[str], source: str) -> dict[str, str]:
    columns = SOURCES[source].column_names
    pairs = sorted(
        ((match_score(h, c), -i, h, c) for i, h in enumerate(headers) for c in columns),
        reverse=True,
    )
    taken_h: set[str] = set()
    taken_c: set[str] = set()
    out: dict[str, str] = {}
    for score, _, header, column in pairs:
        if score < MATCH_CUTOFF or header in taken_h or column in taken_c:
            continue
        out[header] = column
        taken_h.add(header)
        taken_c.add(column)
    return out


def _value_map(kind: Kind, column: str, vocabulary: tuple[str, ...], values: list[str]) -> dict[str, str]:
    """export value -> contract value for the values ingest would not read as they are."""
    mapping: dict[str, str] = {}
    for value in values:
        code = normalise_code(value) or ""
        if kind is Kind.SEX:
            target = code.upper() if code.upper() in vocabulary else SEX_VALUES.get(code, TODO)
        elif kind is Kind.BOOL:
            target = BOOL_VALUES.get(code, TODO)
            if target == code:
                continue
        elif column == "admission_method" and re.fullmatch(r"[0-9][0-9a-z]?", code):
            # PEDW / HES admission method codes: 1x elective, 2x emergency, the rest other.
            target = {"1": "elective", "2": "emergency"}.get(code[0], "other")
        else:
            # "breathing_problems" -> breathing, "falls" -> fall: a contract word it starts with, else the nearest.
            starts = sorted((v for v in vocabulary if code.startswith(v)), key=len, reverse=True)
            close = starts or difflib.get_close_matches(code, vocabulary, n=1, cutoff=0.75)
            target = close[0] if close else TODO
        if target != code and not (kind is Kind.SEX and target == value):
            mapping[value] = target
    return mapping


def _draft_source(source: str, files: list[FileProfile]) -> SourceDraft:
    contract = SOURCES[source]
    draft = SourceDraft(source, files)
    first = files[0]
    by_name = {c.name: c for c in first.columns}
    assigned_all = _assign(first.header, source)
    draft.renames = {h: assigned_all[h] for h in first.header if h in assigned_all and assigned_all[h] != h}
    assigned = {**{c: c for c in first.header if c in contract.column_names}, **draft.renames}
    contract_to_header = {c: h for h, c in assigned.items()}
    # A datetime held as a date column and a time column.
    for col in contract.columns:
        if col.kind is not Kind.DATETIME:
            continue
        header = contract_to_header.get(col.name)
        if header is not None and by_name[header].datetime_formats:
            continue
        stem = col.name.split("_")[0]
        dates = [c for c in first.columns if c.date_formats and stem in snake(c.name)]
        times = [c for c in first.columns if c.time_formats and stem in snake(c.name)]
        if dates and times:
            if header is not None:
                draft.renames.pop(header, None)
                contract_to_header.pop(col.name)
            draft.combine[col.name] = (dates[0].name, times[0].name)
            date_format = dates[0].first_format("date")[0]
            draft.date_formats[col.name] = [f"{date_format} {t}" for t in times[0].first_format("time")]
    for col in contract.columns:
        header = contract_to_header.get(col.name)
        if header is None:
            if col.required and col.name not in draft.combine:
                draft.missing_required.append(col.name)
            continue
        profile = by_name[header]
        if col.kind is Kind.DATE and profile.date_formats and ISO_DATE not in profile.date_formats:
            draft.date_formats[col.name] = profile.first_format("date")
        elif col.kind is Kind.DATETIME and profile.datetime_formats and not set(ISO_DATETIMES) & set(
            profile.datetime_formats
        ):
            draft.date_formats[col.name] = profile.first_format("datetime")
        if col.kind in (Kind.SEX, Kind.CODE, Kind.BOOL):
            vocabulary = col.vocabulary or (("true", "false") if col.kind is Kind.BOOL else ())
            seen = [c for f in files for c in f.columns if c.name == header]
            if any(c.values for c in seen):
                values = sorted({v for c in seen for v in c.values})
                value_map = _value_map(col.kind, col.name, vocabulary, values)
                if value_map:
                    draft.value_maps[col.name] = value_map
                if not all(c.values for c in seen if c.filled):
                    draft.notes.append(f"{header}: values read from some of the files only; check the others")
            elif profile.distinct:
                draft.notes.append(
                    f"{header}: its values are not shown (too many, or each seen once); map those that are "
                    f"not {'/'.join(vocabulary)} under value_maps.{col.name}"
                )
    return draft


def _glob_for(files: list[FileProfile], all_names: list[str]) -> str | list[str]:
    names = [f.path.name for f in files]
    if len(names) == 1:
        return names[0]
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix.rstrip("0123456789")  # PEDW_2023, PEDW_2024 -> PEDW_*
    suffix = names[0][len(prefix):]
    suffix = suffix[suffix.rfind("."):] if "." in suffix else ""
    pattern = f"{prefix}*{suffix}"
    return pattern if prefix and sorted(fnmatch.filter(all_names, pattern)) == sorted(names) else names


def draft_mapping(profile: ExtractProfile, today: dt.date) -> Draft:
    grouped: dict[str, list[FileProfile]] = {}
    unmatched: list[str] = []
    for file in profile.files:
        source = guess_source(file)
        if source is None:
            unmatched.append(file.name)
            continue
        group = grouped.setdefault(source, [])
        if group and set(group[0].header) != set(file.header):
            unmatched.append(f"{file.name} (looks like {source}, but its columns differ from {group[0].name})")
            continue
        group.append(file)
    draft = Draft(profile, {s: _draft_source(s, files) for s, files in grouped.items()}, unmatched)
    draft.yaml = render_yaml(draft, today)
    return draft


def q(value: object) -> str:
    """A YAML scalar, quoted (JSON strings are YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def render_yaml(draft: Draft, today: dt.date) -> str:
    folder = draft.profile.folder
    lines = [
        f"# Draft mapping for {folder.name}, made by `falls-risk inspect` on {today}.",
        "# Check every line against the agency's data specification, replace each TODO, then run:",
        f"#   falls-risk ingest {folder} --workspace WS --mapping THIS_FILE.yaml",
        "# Reference: docs/mapping.md. Keys left out are read as the contract describes.",
        f"description: {q(f'Extract {folder.name} (drafted {today}; finish before use)')}",
        "sources:",
    ]
    all_names = [f.path.name for f in draft.profile.files]
    for source, sd in draft.sources.items():
        first = sd.files[0]
        canonical = len(sd.files) == 1 and first.sheet is None and first.path.name.lower() in {
            f"{source}.csv", f"{source}.parquet"
        }
        if canonical and first.delimiter in (None, ",") and first.encoding in (None, "utf-8", "utf-8-sig") and not (
            sd.renames or sd.combine or sd.date_formats or sd.value_maps or sd.missing_required or sd.notes
        ):
            lines.append(f"  # {source}: {first.path.name} is read as the contract describes; nothing to map")
            continue
        lines.append(f"  {source}:")
        file_value = _glob_for(sd.files, all_names)
        if isinstance(file_value, list):
            lines.append(f"    file: [{', '.join(q(n) for n in file_value)}]")
        else:
            lines.append(f"    file: {q(file_value)}")
        if first.sheet is not None:
            lines.append(f"    sheet: [{', '.join(q(f.sheet) for f in sd.files)}]")
        if first.encoding not in (None, "utf-8", "utf-8-sig"):
            lines.append(f"    encoding: {first.encoding}")
        if first.delimiter not in (None, ","):
            lines.append(f"    delimiter: {q(first.delimiter)}")
        nulls = sorted({v for f in sd.files for c in f.columns for v in c.null_spellings})
        if nulls:
            lines.append(f"    null_values: [{', '.join(q(v) for v in nulls)}]")
        if sd.renames:
            lines.append("    rename:")
            lines.extend(f"      {q(h)}: {c}" for h, c in sd.renames.items())
        for col in sd.missing_required:
            lines.append(f"    # TODO: no column found for required {col!r}; add it under rename: (\"Export name\": {col})")
        if sd.combine:
            lines.append("    combine:")
            lines.extend(f"      {c}: [{q(d)}, {q(t)}]" for c, (d, t) in sd.combine.items())
        if sd.date_formats:
            lines.append("    date_formats:  # day first: UK exports write 01/02/2024 for 1 February")
            lines.extend(
                f"      {c}: {q(f[0]) if len(f) == 1 else '[' + ', '.join(q(x) for x in f) + ']'}"
                for c, f in sd.date_formats.items()
            )
        if sd.value_maps:
            lines.append("    value_maps:")
            for col, m in sd.value_maps.items():
                vocabulary = SOURCES[source].column(col).vocabulary or ("true", "false")
                lines.append(f"      {col}:  # contract values: {'/'.join(vocabulary)}")
                lines.extend(f"        {q(k)}: {q(v)}" for k, v in m.items())
        lines.extend(f"    # TODO: {note}" for note in sd.notes)
    for name in draft.unmatched:
        lines.append(f"# TODO: {name}: no contract source recognised; map it by hand or leave it out")
    return "\n".join(lines) + "\n"


def print_profile(profile: ExtractProfile, draft: Draft, console: Console) -> None:
    guessed = {f.name: s for s, sd in draft.sources.items() for f in sd.files}
    for file in profile.files:
        text = [f"{file.rows:,} rows" + (" (first rows only)" if file.sampled else "")]
        if file.encoding:
            text.append(file.encoding)
        if file.delimiter:
            text.append({",": "comma", "\t": "tab", "|": "pipe", ";": "semicolon"}.get(file.delimiter, file.delimiter)
                        + "-delimited")
        source = guessed.get(file.name)
        text.append(f"looks like {source}" if source else "no contract source recognised")
        console.print(f"[bold]{file.name}[/]: {', '.join(text)}", highlight=False, soft_wrap=True)
        sd = draft.sources.get(source) if source else None
        renames = sd.renames if sd else {}
        combined = {h: c for c, pair in (sd.combine if sd else {}).items() for h in pair}
        table = Table()
        for name in ("column", "filled", "distinct", "values or formats", "contract column"):
            table.add_column(name, overflow="fold")
        for col in file.columns:
            shown = col.formats_text or ", ".join(col.values)
            guess = renames.get(col.name) or col.name
            if source and guess in SOURCES[source].column_names and SOURCES[source].column(guess).kind in HIDDEN_KINDS:
                shown = col.formats_text
            target = renames.get(col.name) or combined.get(col.name) or (col.name if source and col.name in
                                                                           SOURCES[source].column_names else "")
            table.add_row(col.name, f"{col.filled:,}", f"{col.distinct:,}", shown, target)
        console.print(table)
    for name in profile.skipped:
        console.print(f"[dim]{name}: not a file type ingest reads (skipped)[/]", highlight=False)
