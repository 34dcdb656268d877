# ruff: noqa: RUF001 (typographic quotes, CJK punctuation and Cyrillic are what this code reads or writes)
"""The report's own words in the question's language: the labels the product writes around the
model's text (Sources, Research notes, the notes on extracted and unsupported text).

The language is told from the question alone, by script and then by a few common words, so a
Chinese question gets Chinese labels whatever language the model answered in. Unknown
languages get English. Pure; safe in workflow code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Labels:
    language: str
    sources: str
    no_source: str
    cited: str
    research_notes: str
    iteration: str
    no_answer: str
    unsupported: str
    unsupported_intro: str
    extracted_note: str
    note: str


EN = Labels(
    "en",
    "Sources",
    "No source was cited.",
    "cited",
    "Research notes",
    "iteration",
    "No retrieved passage answered this question.",
    "Model statements no retrieved source supports",
    "Not checked against any source: shown because the configuration asks for them.",
    "Parts of this report quote the retrieved sources directly, where the model's text was "
    "not backed by them.",
    "Note",
)

_ALL: dict[str, Labels] = {
    "en": EN,
    "zh": Labels(
        "zh",
        "来源",
        "未引用任何来源。",
        "引用",
        "研究笔记",
        "迭代",
        "检索到的段落未能回答此问题。",
        "没有检索来源支持的模型陈述",
        "未经任何来源核实：因配置要求而列出。",
        "本报告的部分内容直接引用检索到的来源，因为模型的文字没有得到来源支持。",
        "注",
    ),
    "ja": Labels(
        "ja",
        "出典",
        "引用された出典はありません。",
        "引用",
        "調査メモ",
        "反復",
        "この質問に答える文書は見つかりませんでした。",
        "出典に裏付けられないモデルの記述",
        "どの出典とも照合されていません。設定により表示しています。",
        "モデルの文章が出典に裏付けられなかった部分は、出典から直接引用しています。",
        "注",
    ),
    "ko": Labels(
        "ko",
        "출처",
        "인용된 출처가 없습니다.",
        "인용",
        "연구 노트",
        "반복",
        "이 질문에 답하는 문서를 찾지 못했습니다.",
        "출처가 뒷받침하지 않는 모델의 진술",
        "어떤 출처와도 확인되지 않았습니다. 설정에 따라 표시합니다.",
        "모델의 글이 출처로 뒷받침되지 않은 부분은 출처를 직접 인용합니다.",
        "참고",
    ),
    "es": Labels(
        "es",
        "Fuentes",
        "No se citó ninguna fuente.",
        "citado",
        "Notas de investigación",
        "iteración",
        "Ningún pasaje recuperado respondió a esta pregunta.",
        "Afirmaciones del modelo sin respaldo en las fuentes",
        "No verificadas con ninguna fuente: se muestran porque la configuración lo pide.",
        "Partes de este informe citan directamente las fuentes, donde el texto del modelo no "
        "estaba respaldado.",
        "Nota",
    ),
    "fr": Labels(
        "fr",
        "Sources",
        "Aucune source n'a été citée.",
        "cité",
        "Notes de recherche",
        "itération",
        "Aucun passage retrouvé ne répond à cette question.",
        "Affirmations du modèle qu'aucune source ne confirme",
        "Non vérifiées : affichées parce que la configuration le demande.",
        "Certaines parties de ce rapport citent directement les sources, là où le texte du "
        "modèle n'était pas étayé.",
        "Note",
    ),
    "de": Labels(
        "de",
        "Quellen",
        "Es wurde keine Quelle zitiert.",
        "zitiert",
        "Recherchenotizen",
        "Iteration",
        "Keine gefundene Passage beantwortet diese Frage.",
        "Aussagen des Modells ohne Beleg in den Quellen",
        "Nicht anhand einer Quelle geprüft: gezeigt, weil die Konfiguration es verlangt.",
        "Teile dieses Berichts zitieren die Quellen direkt, wo der Text des Modells nicht "
        "belegt war.",
        "Hinweis",
    ),
    "pt": Labels(
        "pt",
        "Fontes",
        "Nenhuma fonte foi citada.",
        "citado",
        "Notas de pesquisa",
        "iteração",
        "Nenhum trecho recuperado respondeu a esta pergunta.",
        "Afirmações do modelo sem apoio nas fontes",
        "Não verificadas em nenhuma fonte: mostradas porque a configuração pede.",
        "Partes deste relatório citam as fontes diretamente, onde o texto do modelo não tinha "
        "apoio.",
        "Nota",
    ),
    "ru": Labels(
        "ru",
        "Источники",
        "Источники не цитировались.",
        "цитируется",
        "Заметки исследования",
        "итерация",
        "Ни один найденный фрагмент не ответил на этот вопрос.",
        "Утверждения модели без подтверждения в источниках",
        "Не проверены ни по одному источнику: показаны по настройке.",
        "Части отчёта цитируют источники напрямую там, где текст модели не подтверждён.",
        "Примечание",
    ),
}

# Every Sources heading the product may write (a reader of the Markdown splits the list off).
SOURCES_HEADINGS = tuple(f"## {labels.sources}" for labels in _ALL.values())

_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u3400-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
)
_COMMON_WORDS = {
    "es": {"el", "la", "los", "las", "qué", "cómo", "por", "para", "una", "del", "es", "y"},
    "fr": {"le", "la", "les", "des", "est", "quels", "quelle", "comment", "pour", "une", "et"},
    "de": {"der", "die", "das", "und", "ist", "wie", "welche", "nicht", "ein", "eine", "mit"},
    "pt": {"o", "os", "as", "do", "da", "não", "como", "para", "uma", "é", "e", "quais"},
    "en": {"the", "is", "what", "how", "and", "of", "to", "in", "does", "which", "why", "a"},
}


def language_of(question: str) -> str:
    for language, script in _SCRIPTS:
        if len(script.findall(question)) >= 2:
            return language
    words = re.findall(r"[^\W\d_]+", question.lower())
    votes = {lang: sum(w in common for w in words) for lang, common in _COMMON_WORDS.items()}
    best = max(votes, key=lambda lang: (votes[lang], lang == "en"))
    return best if votes[best] > votes["en"] else "en"


def labels_for(question: str) -> Labels:
    return _ALL.get(language_of(question), EN)
