// SamplingPanel: spin boxes for SamplingParams with the model's defaults.
#include "app/gui/sampling_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace moescope::gui {

SamplingPanel::SamplingPanel(QWidget* parent) : QWidget(parent) {
    setObjectName("samplingPanel");
    auto* outer = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    auto dbl = [&](const char* name, double lo, double hi, double step, int decimals, const QString& label, const QString& tip) {
        auto* s = new QDoubleSpinBox(this);
        s->setObjectName(QLatin1String(name));
        s->setRange(lo, hi);
        s->setSingleStep(step);
        s->setDecimals(decimals);
        s->setToolTip(tip);
        connect(s, &QDoubleSpinBox::valueChanged, this, &SamplingPanel::changed);
        form->addRow(label, s);
        return s;
    };
    auto integer = [&](const char* name, int lo, int hi, const QString& label, const QString& tip) {
        auto* s = new QSpinBox(this);
        s->setObjectName(QLatin1String(name));
        s->setRange(lo, hi);
        s->setToolTip(tip);
        connect(s, &QSpinBox::valueChanged, this, &SamplingPanel::changed);
        form->addRow(label, s);
        return s;
    };
    temperature_ = dbl("temperature", 0.0, 5.0, 0.05, 2, tr("Temperature"),
                       tr("Divides the logits before sampling. 0 = greedy (always the most likely token); "
                          "higher = more varied output."));
    temperature_->setSpecialValueText(tr("0 (greedy)"));
    topK_ = integer("topK", 0, 1000, tr("Top-k"), tr("Sample only among the k most likely tokens. 0 = off."));
    topK_->setSpecialValueText(tr("off"));
    topP_ = dbl("topP", 0.01, 1.0, 0.05, 2, tr("Top-p"),
                tr("Nucleus sampling: keep the smallest set of tokens whose probability adds up to p. 1 = off."));
    minP_ = dbl("minP", 0.0, 1.0, 0.01, 2, tr("Min-p"),
                tr("Drop tokens whose probability is below min-p times the most likely token's. 0 = off."));
    repeat_ = dbl("repeatPenalty", 1.0, 3.0, 0.05, 2, tr("Repetition penalty"),
                  tr("Makes tokens seen in the last 64 tokens less likely (CTRL-style). 1 = off."));
    seed_ = integer("seed", 0, 2147483647, tr("Seed"),
                    tr("Random seed: the same seed, settings and interventions give the same output."));
    maxTokens_ = integer("maxTokens", 1, 32768, tr("Max tokens"), tr("Stop after this many new tokens."));
    maxTokens_->setValue(128);
    outer->addLayout(form);

    // SCMoE (Shi et al. 2024; methods.md §2): z = (1+β)·log p_strong − β·log p_weak over the tokens with
    // p_strong ≥ α·max p_strong; the weak pass uses rank-r or top-k' routing.
    scmoeBox_ = new QGroupBox(tr("Self-contrast decoding (SCMoE)"), this);
    scmoeBox_->setObjectName("scmoeBox");
    scmoeBox_->setCheckable(true);
    scmoeBox_->setChecked(false);
    scmoeBox_->setToolTip(tr("Contrast the model's normal routing (strong) with a weak routing of the same model and decode from\n"
                             "(1+β)·log p_strong − β·log p_weak among plausible tokens. Runs two CPU sessions; branches decode normally."));
    auto* sform = new QFormLayout(scmoeBox_);
    scmoeBeta_ = new QDoubleSpinBox(scmoeBox_);
    scmoeBeta_->setObjectName("scmoeBeta");
    scmoeBeta_->setRange(0.0, 5.0);
    scmoeBeta_->setSingleStep(0.1);
    scmoeBeta_->setValue(0.5);
    scmoeBeta_->setToolTip(tr("β: contrast strength (reference default 0.5; the paper searches 0.1–0.9). 0 = plain decoding."));
    scmoeAlpha_ = new QDoubleSpinBox(scmoeBox_);
    scmoeAlpha_->setObjectName("scmoeAlpha");
    scmoeAlpha_->setRange(0.0, 1.0);
    scmoeAlpha_->setSingleStep(0.05);
    scmoeAlpha_->setValue(0.1);
    scmoeAlpha_->setToolTip(tr("α: plausibility cut, only tokens with p_strong ≥ α·max p_strong compete (paper: 0.1)."));
    scmoeWeak_ = new QComboBox(scmoeBox_);
    scmoeWeak_->setObjectName("scmoeWeak");
    for (const char* w : {"rank2", "rank3", "rank4", "top1", "top2"}) scmoeWeak_->addItem(QString::fromLatin1(w), QString::fromLatin1(w));
    scmoeWeak_->setToolTip(tr("Weak routing: rank-r uses only the r-th ranked expert (paper's Mixtral setting: rank-2);\n"
                              "top-k' uses the k' best experts (DeepSeekMoE setting)."));
    sform->addRow(tr("β"), scmoeBeta_);
    sform->addRow(tr("α"), scmoeAlpha_);
    sform->addRow(tr("Weak routing"), scmoeWeak_);
    connect(scmoeBox_, &QGroupBox::toggled, this, &SamplingPanel::changed);
    outer->addWidget(scmoeBox_);
    auto* reset = new QPushButton(tr("Reset to model defaults"), this);
    reset->setObjectName("resetSampling");
    reset->setToolTip(tr("Use the values from the model's generation_config.json"));
    connect(reset, &QPushButton::clicked, this, &SamplingPanel::resetToModelDefaults);
    outer->addWidget(reset);
    source_ = new QLabel(this);
    source_->setWordWrap(true);
    outer->addWidget(source_);
    outer->addStretch(1);
    resetToModelDefaults();
}

void SamplingPanel::setModelDefaults(const GenerationDefaults& d) {
    defaults_ = d;
    resetToModelDefaults();
}

void SamplingPanel::resetToModelDefaults() {
    const GenerationDefaults& d = defaults_;
    // HF semantics: do_sample=false means greedy whatever the temperature says.
    temperature_->setValue(d.do_sample ? d.temperature : 0.0);
    topK_->setValue(d.do_sample ? d.top_k : 0);
    topP_->setValue(d.top_p);
    minP_->setValue(d.min_p);
    repeat_->setValue(d.repetition_penalty);
    if (d.max_new_tokens > 0) maxTokens_->setValue(d.max_new_tokens);
    source_->setText(d.present ? tr("Defaults from the model's generation_config.json")
                               : tr("The model has no generation_config.json: greedy defaults"));
}

SamplingParams SamplingPanel::params() const {
    SamplingParams p;
    p.greedy = temperature_->value() <= 0.0;
    p.temperature = p.greedy ? 1.0f : static_cast<float>(temperature_->value());
    p.top_k = topK_->value();
    p.top_p = static_cast<float>(topP_->value());
    p.min_p = static_cast<float>(minP_->value());
    p.repeat_penalty = static_cast<float>(repeat_->value());
    p.seed = static_cast<uint64_t>(seed_->value());
    return p;
}

int SamplingPanel::maxTokens() const { return maxTokens_->value(); }

std::optional<ScmoeOptions> SamplingPanel::scmoe() const {
    if (!scmoeBox_->isChecked()) return std::nullopt;
    ScmoeOptions o;
    o.beta = static_cast<float>(scmoeBeta_->value());
    o.alpha = static_cast<float>(scmoeAlpha_->value());
    auto weak = parse_weak_routing(scmoeWeak_->currentData().toString().toStdString());
    if (weak) o.weak = weak.value();
    return o;
}

void SamplingPanel::setScmoe(const std::optional<ScmoeOptions>& o) {
    scmoeBox_->setChecked(o.has_value());
    if (!o) return;
    scmoeBeta_->setValue(o->beta);
    scmoeAlpha_->setValue(o->alpha);
    const QString w = QString::fromLatin1(o->weak.kind == WeakRouting::Kind::Rank ? "rank" : "top") + QString::number(o->weak.n);
    const int i = scmoeWeak_->findData(w);
    if (i >= 0) scmoeWeak_->setCurrentIndex(i);
}

}  // namespace moescope::gui
